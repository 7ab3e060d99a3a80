"""``yolor-cfg yaml2cfg IN.yaml OUT.cfg``: convert a YOLOR paper-branch model YAML."""
from __future__ import annotations

import sys

from ..core.errors import CfgError
from ..core.files import write_text_atomic
from ..compiler.yaml2cfg import yaml_to_cfg
from ..core import checks
from .common import existing_file, output_file, square_img


def add_parser(sub):
    p = sub.add_parser("yaml2cfg", help="convert a YOLOR paper-branch model YAML into a cfg (with a weight key map)")
    p.add_argument("yaml", type=existing_file("model YAML"))
    p.add_argument("out", type=output_file("cfg output"))
    p.add_argument("--img", type=square_img, help="[net] width/height (default 1280 for 4+ heads, else 640)")


def run(args) -> int:
    from ..compiler.graph import load_graph
    from ..compiler.summary import summarize

    checks.not_an_input(args.out, [args.yaml], "cfg output")

    text = yaml_to_cfg(args.yaml, args.img)
    try:
        info = summarize(load_graph(text))
    except CfgError as exc:  # a converter bug, not a user error: say so plainly
        print(f"error: the converted cfg does not compile (nothing written):\n{exc}", file=sys.stderr)
        return 1
    write_text_atomic(args.out, text)
    print(f"wrote {args.out}: {len(info['layers'])} layers, {info['params']:,} parameters, {info['gflops']:.3f} GFLOPs")
    return 0
