"""``yolor-cfg data synth``: write the built-in synthetic dataset."""
from __future__ import annotations

from pathlib import Path

from ..core.checks import UsageError
from ..core.files import atomic_dir
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
    from ..workflows.train.synth import build_synth

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out}: exists and is not empty; data synth writes a whole new dataset and never "
                         "mixes it into another one: give a new folder")
    with atomic_dir(out) as tmp:
        build_synth(tmp, args.n_train, args.n_val, args.img, args.seed)
        yaml = tmp / "data.yaml"
        yaml.write_text(yaml.read_text().replace(str(tmp.resolve()), str(out.resolve())))
    print(f"wrote {out / 'data.yaml'}")
    return 0
