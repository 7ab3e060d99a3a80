"""``yolor-cfg set-classes CFG N --out NEW.cfg``: change the class count everywhere it matters."""
from __future__ import annotations


from ..core.files import write_text_atomic
from ..core import checks
from .common import count, existing_file, output_file


def add_parser(sub):
    p = sub.add_parser("set-classes", help="set classes= of every head and the filters= that depend on it")
    p.add_argument("cfg", type=existing_file("cfg"))
    p.add_argument("classes", type=count(1, 100_000))
    p.add_argument("--out", required=True, type=output_file("cfg output"))


def run(args) -> int:
    from ..compiler.cfgtext import set_classes
    from ..compiler.frontend import parse_file, parse_text
    from ..compiler.graph import build_graph

    checks.not_an_input(args.out, [args.cfg], "cfg output")

    source = parse_file(args.cfg)
    graph = build_graph(source)
    text = set_classes(source, graph, args.classes)
    build_graph(parse_text(text, args.out))  # the result must be valid
    write_text_atomic(args.out, text)
    print(f"wrote {args.out}: {len(graph.heads)} heads with classes={args.classes}")
    return 0
