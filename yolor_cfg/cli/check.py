"""``yolor-cfg check CFG...``: validate cfg files; exit 0 when all are valid, 2 otherwise."""
from __future__ import annotations

import sys

from ..core.errors import CfgError
from .common import DIALECT_CHOICES, shape_img, print_diagnostics


def add_parser(sub):
    p = sub.add_parser("check", help="validate cfg files (path:line:col: error: ... per problem)")
    p.add_argument("cfg", nargs="+")
    p.add_argument("--img", type=shape_img, metavar="SIZE", help="input size: 640, or HEIGHTxWIDTH")
    p.add_argument("--dialect", choices=DIALECT_CHOICES)
    p.add_argument("--show-source", action="store_true", help="print the offending line under each problem")


def check_file(path: str, img_size=None, dialect=None):
    """(ok, diagnostics, graph or None) for one file; never raises for problems in the file."""
    from ..compiler.graph import load_graph

    try:
        graph = load_graph(path, img_size, dialect)
    except CfgError as exc:
        return False, exc.diagnostics, None
    return True, graph.warnings, graph


def run(args) -> int:
    status = 0
    for path in args.cfg:
        ok, diags, graph = check_file(path, args.img, args.dialect)
        print_diagnostics(diags, args.show_source, sys.stdout)
        if ok:
            print(f"{path}: ok (dialect {graph.dialect.name}: {graph.dialect_reason})")
        else:
            status = 2
    return status
