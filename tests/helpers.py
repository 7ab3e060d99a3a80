from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Copies of the reference files the tests need (from ../shared, laid out the same way), so that a
# fresh clone runs every test; ../shared is read only for what is not copied.
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = ROOT.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A reference file: the repository's copy under tests/fixtures, else ../shared's, else skip."""
    for base in (FIXTURES, SHARED):
        path = base.joinpath(*parts)
        if path.exists():
            return path
    pytest.skip(f"{'/'.join(parts)} is neither in tests/fixtures nor in ../shared")


HEADER = "[net]\nwidth=64\nheight=64\nchannels=3\n"
