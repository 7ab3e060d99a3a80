"""The ``yolor-cfg`` command line: one module per subcommand, each a thin layer over the API.

Exit codes: 0 success; 1 an error in the inputs, weights, data, training or export (``error: ...``);
2 a usage error (a bad argument) or errors in a cfg file (``path:line:col: error: ...``).
``--traceback`` (or YOLOR_CFG_DEBUG=1) shows the Python stack of an error, for bug reports."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..core.errors import CfgError, YolorCfgError
from .common import report_cfg_error

SUBCOMMANDS = ("info", "check", "convert", "export", "verify", "data", "train", "val", "detect", "demo", "draw",
               "yaml2cfg", "set-classes", "benchmark", "import")


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="yolor-cfg", description="Darknet-style cfg compiler for YOLOR networks")
    parser.add_argument("--traceback", action="store_true",
                        help="show the Python stack of an error (also YOLOR_CFG_DEBUG=1), for bug reports")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"yolor_cfg.cli.{name.replace('-', '_')}" + ("_" if name == "import" else ""))
        module.add_parser(sub)
        modules[name] = module
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    debug = args.traceback or os.environ.get("YOLOR_CFG_DEBUG", "") not in ("", "0")
    try:
        return modules[args.command].run(args)
    except CfgError as exc:
        if debug:
            raise
        return report_cfg_error(exc)
    except (YolorCfgError, OSError) as exc:  # weights, data, export, training, files: a message, no traceback
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
