"""``yolor-cfg data synth``: write a built-in synthetic dataset (detection, or with ``--tracks`` tracking)."""
from __future__ import annotations

from .common import count, output_dir, square_img


def add_parser(sub):
    p = sub.add_parser("data", help="dataset tools")
    dsub = p.add_subparsers(dest="data_command", required=True)
    s = dsub.add_parser("synth", help="coloured shapes on textured backgrounds (YOLO txt + COCO json), or with "
                                      "--tracks MOTChallenge sequences of look-alike objects that cross and hide")
    s.add_argument("--out", required=True, type=output_dir("dataset folder"))
    s.add_argument("--n-train", type=count(1, 10_000_000), help="training images (default 2000; not with --tracks)")
    s.add_argument("--n-val", type=count(1, 10_000_000), help="validation images (default 200; not with --tracks)")
    s.add_argument("--img", type=square_img, default=256)
    s.add_argument("--seed", type=count(0), default=0)
    s.add_argument("--tracks", action="store_true",
                   help="tracking data: MOTChallenge sequences (img1/, gt/gt.txt, seqinfo.ini) with identities")
    s.add_argument("--sequences", type=count(1, 10_000),
                   help="with --tracks: training sequences (default 4); half as many, at least 1, for validation")
    s.add_argument("--frames", type=count(1, 100_000), help="with --tracks: frames per sequence (default 60)")


def run(args) -> int:
    from .. import api
    from ..core.checks import UsageError

    track_only = [f"--{n}" for n in ("sequences", "frames") if getattr(args, n) is not None]
    image_only = [f"--{n.replace('_', '-')}" for n in ("n_train", "n_val") if getattr(args, n) is not None]
    if args.tracks and image_only:
        raise UsageError(f"{' and '.join(image_only)} count images; with --tracks give --sequences")
    if not args.tracks and track_only:
        raise UsageError(f"{' and '.join(track_only)} only go with --tracks")
    if args.tracks:
        n_train = args.sequences or 4
        data = api.synth(n_train, max(1, n_train // 2), args.img, args.seed, out=args.out, tracks=True,
                         frames=args.frames or 60)
    else:
        data = api.synth(args.n_train, args.n_val, args.img, args.seed, out=args.out)
    print(f"wrote {data}")
    return 0
