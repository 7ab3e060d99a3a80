from pathlib import Path

import pytest


@pytest.fixture
def write_cfg(tmp_path):
    """Write cfg text to a file and return its path."""

    def write(text: str, name: str = "net.cfg") -> Path:
        p = tmp_path / name
        p.write_text(text)
        return p

    return write
