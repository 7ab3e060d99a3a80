"""``yolor-cfg data synth``: write the built-in synthetic dataset."""
from __future__ import annotations

from .common import count, output_dir, square_img


def add_parser(sub):
    p = sub.add_parser("data", help="dataset tools")
    dsub = p.add_subparsers(dest="data_command", required=True)
    s = dsub.add_parser("synth", help="coloured shapes on textured backgrounds (YOLO txt + COCO json)")
    s.add_argument("--out", required=True, type=output_dir("dataset folder"))
    s.add_argument("--n-train", type=count(1, 10_000_000), default=2000)
    s.add_argument("--n-val", type=count(1, 10_000_000), default=200)
    s.add_argument("--img", type=square_img, default=256)
    s.add_argument("--seed", type=count(0), default=0)


def run(args) -> int:
    from .. import api

    print(f"wrote {api.synth(args.n_train, args.n_val, args.img, args.seed, out=args.out)}")
    return 0
