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


def assert_reproduces(model, fixture, atol: float = 1e-4) -> None:
    """``model`` (eval mode) gives a golden fixture's ``eval_x2`` and ``eval_raw_x2`` for its ``x2``."""
    import torch

    assert model.num_params() == fixture["n_params"]
    with torch.no_grad():
        dets, raw = model.eval()(fixture["x2"])
    torch.testing.assert_close(dets, fixture["eval_x2"], atol=atol, rtol=1e-5)
    for ours, ref in zip(raw, fixture["eval_raw_x2"]):
        torch.testing.assert_close(ours, ref, atol=atol, rtol=1e-5)


HEADER = "[net]\nwidth=64\nheight=64\nchannels=3\n"


def cli_subparser(command: str):
    """The argparse parser of a command as typed after ``yolor-cfg`` (``"train"``, ``"data synth"``)."""
    import argparse

    from yolor_cfg.cli import build_parser

    parser = build_parser()[0]
    for word in command.split():
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[word]
    return parser
