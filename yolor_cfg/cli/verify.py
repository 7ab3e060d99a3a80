"""``yolor-cfg verify``: compare an exported ONNX file with the cfg model, layer by layer."""
from __future__ import annotations

from .common import DIALECT_CHOICES, existing_file, tolerance


def add_parser(sub):
    p = sub.add_parser("verify", help="compare an ONNX export with the cfg model layer by layer")
    p.add_argument("--cfg", required=True, type=existing_file("cfg"))
    p.add_argument("--weights", type=existing_file("weights"))
    p.add_argument("--onnx", required=True, type=existing_file("ONNX model"))
    p.add_argument("--tolerance", type=tolerance(), default=1e-4)
    p.add_argument("--dialect", choices=DIALECT_CHOICES)


def run(args) -> int:
    from ..deploy.formats import verify_onnx
    from ..compiler.model import compile

    model = compile(args.cfg, dialect=args.dialect)
    if args.weights:
        model.load_weights(args.weights)
    lines = verify_onnx(model, args.onnx, args.tolerance)
    print("\n".join(lines))
    print(f"ok: {len(lines)} layers agree within {args.tolerance:g}")
    return 0
