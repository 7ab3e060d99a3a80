"""The ``yolor-cfg`` command line: one module per subcommand (``add_parser`` and ``run``), discovered;
each is a thin layer over the API. A new command is a new module here, nothing else.

Exit codes: 0 success; 1 an error in the inputs, weights, data, training or export (``error: ...``);
2 a usage error (a bad argument) or errors in a cfg file (``path:line:col: error: ...``).
``--traceback`` (or YOLOR_CFG_DEBUG=1) shows the Python stack of an error, for bug reports."""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from ..core.errors import CfgError, YolorCfgError
from .common import report_cfg_error



def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="yolor-cfg", description="Darknet-style cfg compiler for YOLOR networks")
    parser.add_argument("--traceback", action="store_true",
                        help="show the Python stack of an error (also YOLOR_CFG_DEBUG=1), for bug reports")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = commands()
    for module in modules.values():
        module.add_parser(sub)
    return parser, modules


def commands() -> dict:
    """command name -> its module: every module of this package with ``add_parser`` and ``run``
    (``set_classes.py`` is ``set-classes``; ``import_.py`` is ``import``, a Python keyword)."""
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "add_parser") and hasattr(module, "run"):
            found[info.name.rstrip("_").replace("_", "-")] = module
    return found


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
