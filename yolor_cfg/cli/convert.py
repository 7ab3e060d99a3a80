"""``yolor-cfg convert --cfg CFG --weights IN --out OUT``: .weights <-> .pt, bit-exact both ways."""
from __future__ import annotations

from ..core import checks
from .common import DIALECT_CHOICES, existing_file, output_file


def add_parser(sub):
    p = sub.add_parser("convert", help="convert weights between Darknet .weights and .pt")
    p.add_argument("--cfg", required=True, type=existing_file("cfg"))
    p.add_argument("--weights", required=True, type=existing_file("weights"),
                   help="input: .weights, YOLOR .pt or yolor-cfg .pt")
    p.add_argument("--out", required=True, type=output_file("converted weights", (".weights", ".pt", ".pth")),
                   help="output: .weights or .pt (by extension)")
    p.add_argument("--dialect", choices=DIALECT_CHOICES)
    p.add_argument("--partial", action="store_true", help="load only the backbone of a .weights file")


def run(args) -> int:
    from ..compiler.io import DarknetHeader, load_weights_into, read_torch_file, save_checkpoint, save_darknet_weights
    from ..compiler.io.checkpoint import is_torch_file
    from ..compiler.model import compile

    checks.not_an_input(args.out, [args.weights, args.cfg], "converted weights")

    model = compile(args.cfg, dialect=args.dialect)
    header = None
    if is_torch_file(args.weights):
        obj = read_torch_file(args.weights)
        if isinstance(obj, dict) and "darknet_header" in obj:
            header = DarknetHeader(*obj["darknet_header"])
    report = load_weights_into(model, args.weights, partial=args.partial)
    if header is None and hasattr(report, "header"):
        header = report.header
    if args.out.endswith(".weights"):
        n = save_darknet_weights(model, args.out, header)
        print(f"wrote {args.out}: {n:,} floats")
    else:
        extra = {"darknet_header": [header.major, header.minor, header.revision, header.seen]} if header else {}
        save_checkpoint(model, args.out, **extra)
        print(f"wrote {args.out}")
    if report is not None and hasattr(report, "layers_loaded"):
        print(str(report))
    return 0
