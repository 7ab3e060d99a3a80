"""``yolor-cfg info CFG``: layers, shapes, parameters, GFLOPs and dialect."""
from __future__ import annotations

import json

from .common import DIALECT_CHOICES, shape_img, print_diagnostics


def add_parser(sub):
    p = sub.add_parser("info", help="show the layer table of a cfg")
    p.add_argument("cfg")
    p.add_argument("--img", type=shape_img, metavar="SIZE", help="input size: 640, or HEIGHTxWIDTH")
    p.add_argument("--dialect", choices=DIALECT_CHOICES)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from ..compiler.graph import load_graph
    from ..compiler.summary import format_table, summarize

    graph = load_graph(args.cfg, args.img, args.dialect)
    print_diagnostics(graph.warnings)
    info = summarize(graph)
    if args.json:
        print(json.dumps(info))
    else:
        print(format_table(graph, info))
    return 0
