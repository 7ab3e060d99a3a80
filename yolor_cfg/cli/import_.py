"""``yolor-cfg import CKPT --out DIR``: a whole-model training checkpoint -> cfg + our checkpoint."""
from __future__ import annotations

from .common import existing_file, output_dir, square_img


def add_parser(sub):
    p = sub.add_parser("import", help="import a YOLOR paper-branch training checkpoint (whole pickled model), safely")
    p.add_argument("checkpoint", type=existing_file("checkpoint"))
    p.add_argument("--out", required=True, type=output_dir("import output folder"))
    p.add_argument("--name", help="file names in --out (default: the checkpoint's stem)")
    p.add_argument("--img", type=square_img, help="[net] width/height of the cfg (default 1280 for 4+ heads, else 640)")


def run(args) -> int:
    from ..compiler.importer import import_checkpoint

    print(import_checkpoint(args.checkpoint, args.out, args.name, args.img).format())
    return 0
