"""``yolor-cfg set-classes CFG N --out NEW.cfg``: change the class count everywhere it matters."""
from __future__ import annotations

from pathlib import Path

from ..cfgtext import set_classes
from ..frontend import parse_file, parse_text
from ..graph import build_graph


def add_parser(sub):
    p = sub.add_parser("set-classes", help="set classes= of every head and the filters= that depend on it")
    p.add_argument("cfg")
    p.add_argument("classes", type=int)
    p.add_argument("--out", required=True)


def run(args) -> int:
    if args.classes < 1:
        print("error: the class count must be at least 1")
        return 2
    source = parse_file(args.cfg)
    graph = build_graph(source)
    text = set_classes(source, graph, args.classes)
    build_graph(parse_text(text, args.out))  # the result must be valid
    Path(args.out).write_text(text)
    print(f"wrote {args.out}: {len(graph.heads)} heads with classes={args.classes}")
    return 0
