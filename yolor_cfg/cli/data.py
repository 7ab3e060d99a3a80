"""``yolor-cfg data synth``: write the built-in synthetic dataset."""
from __future__ import annotations

from ..train.synth import build_synth


def add_parser(sub):
    p = sub.add_parser("data", help="dataset tools")
    dsub = p.add_subparsers(dest="data_command", required=True)
    s = dsub.add_parser("synth", help="coloured shapes on textured backgrounds (YOLO txt + COCO json)")
    s.add_argument("--out", required=True)
    s.add_argument("--n-train", type=int, default=2000)
    s.add_argument("--n-val", type=int, default=200)
    s.add_argument("--img", type=int, default=256)
    s.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    data = build_synth(args.out, args.n_train, args.n_val, args.img, args.seed)
    print(f"wrote {data}")
    return 0
