"""``yolor-cfg draw CFG``: the network as a diagram (DOT, SVG or PNG)."""
from __future__ import annotations

from ..core.errors import CfgError
from ..core import checks
from .common import DIALECT_CHOICES, output_file, report_cfg_error, shape_img


def add_parser(sub):
    p = sub.add_parser("draw", help="render a cfg as a diagram (Graphviz)")
    p.add_argument("cfg")
    p.add_argument("--img", type=shape_img)
    p.add_argument("--out", default="net.svg", type=output_file("diagram", (".svg", ".png", ".pdf", ".dot")),
                   help="net.svg, net.png, net.pdf or net.dot")
    p.add_argument("--fused", action="store_true", help="draw the graph after the fusion passes")
    p.add_argument("--collapse", action="store_true", help="one box (with a count) per run of repeated residual blocks")
    p.add_argument("--dialect", choices=DIALECT_CHOICES)


def run(args) -> int:
    from ..compiler.draw import render
    from ..compiler.graph import load_graph

    checks.not_an_input(args.out, [args.cfg], "diagram")

    try:
        graph = load_graph(args.cfg, args.img, args.dialect)
    except CfgError as exc:
        return report_cfg_error(exc)
    title = None
    if args.fused:
        from ..compiler.model import Model

        fused = Model(graph).fuse()
        graph, title = fused.graph, f"{graph.path} (fused: {fused.fuse_report.summary()})"
    _, message = render(graph, args.out, args.collapse, title)
    print(message)
    return 0
