"""The ``yolor-cfg`` command line: one module per subcommand, each a thin layer over the API."""
from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import CfgError, YolorCfgError
from .common import report_cfg_error

SUBCOMMANDS = ("info", "check", "convert", "export", "verify", "data", "train", "val", "detect", "demo", "draw", "yaml2cfg", "set-classes", "benchmark")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yolor-cfg", description="Darknet-style cfg compiler for YOLOR networks")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"yolor_cfg.cli.{name.replace('-', '_')}")
        module.add_parser(sub)
        modules[name] = module
    args = parser.parse_args(argv)
    try:
        return modules[args.command].run(args)
    except CfgError as exc:
        return report_cfg_error(exc)
    except YolorCfgError as exc:  # weights, data, export, training: a message, never a traceback
        print(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
