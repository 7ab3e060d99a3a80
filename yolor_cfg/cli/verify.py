"""``yolor-cfg verify``: compare an exported ONNX file with the cfg model, layer by layer."""
from __future__ import annotations

from ..api import compile
from ..export import verify_onnx


def add_parser(sub):
    p = sub.add_parser("verify", help="compare an ONNX export with the cfg model layer by layer")
    p.add_argument("--cfg", required=True)
    p.add_argument("--weights")
    p.add_argument("--onnx", required=True)
    p.add_argument("--tolerance", type=float, default=1e-4)
    p.add_argument("--dialect", choices=("yolor", "darknet"))


def run(args) -> int:
    model = compile(args.cfg, dialect=args.dialect)
    if args.weights:
        model.load_weights(args.weights)
    lines = verify_onnx(model, args.onnx, args.tolerance)
    print("\n".join(lines))
    print(f"ok: {len(lines)} layers agree within {args.tolerance:g}")
    return 0
