"""``yolor-cfg yaml2cfg IN.yaml OUT.cfg``: convert a YOLOR paper-branch model YAML."""
from __future__ import annotations

from pathlib import Path

from ..errors import CfgError
from ..graph import load_graph
from ..summary import summarize
from ..yaml2cfg import YamlError, yaml_to_cfg


def add_parser(sub):
    p = sub.add_parser("yaml2cfg", help="convert a YOLOR paper-branch model YAML into a cfg (with a weight key map)")
    p.add_argument("yaml")
    p.add_argument("out")
    p.add_argument("--img", type=int, help="[net] width/height (default 1280 for 4+ heads, else 640)")


def run(args) -> int:
    try:
        text = yaml_to_cfg(args.yaml, args.img)
    except (YamlError, OSError, KeyError, ValueError) as exc:
        print(f"error: {args.yaml}: {exc}")
        return 2
    Path(args.out).write_text(text)
    try:
        info = summarize(load_graph(args.out))
    except CfgError as exc:  # a converter bug, not a user error: say so plainly
        print(f"error: the converted cfg does not compile:\n{exc}")
        return 1
    print(f"wrote {args.out}: {len(info['layers'])} layers, {info['params']:,} parameters, {info['gflops']:.3f} GFLOPs")
    return 0
