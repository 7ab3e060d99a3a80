"""``yolor-cfg track``: multi-object tracking of a video, a frame folder or a MOTChallenge sequence."""
from __future__ import annotations

from .common import device, existing_file, existing_path, img_size, output_dir, probability


def add_parser(sub):
    p = sub.add_parser("track", help="track objects across frames (detection + embedding + motion)")
    p.add_argument("--weights", required=True, type=existing_path("weights"),
                   help="a model with an [embedding] layer (.pt, or an exported artifact); any detector with --match iou")
    p.add_argument("--cfg", type=existing_file("cfg"), help="network cfg (not needed for our .pt or an exported model)")
    p.add_argument("--source", required=True, type=existing_path("track source"),
                   help="a video, a folder of frames, or a MOTChallenge sequence folder (SEQ/img1, SEQ/seqinfo.ini)")
    p.add_argument("--out", default="runs/track", type=output_dir("track output folder"),
                   help="gets NAME.txt (MOTChallenge results) and NAME.mp4 (track ids drawn)")
    p.add_argument("--match", choices=("embed", "iou"), default="embed",
                   help="embed: appearance fused with motion, then IoU (JDE); iou: IoU only")
    p.add_argument("--conf", type=probability(), default=0.3)
    p.add_argument("--iou", type=probability(), default=0.45)
    p.add_argument("--img", type=img_size)
    p.add_argument("--device", default="cpu", type=device())
    p.add_argument("--no-video", action="store_true", help="write the results file only")


def run(args) -> int:
    from .. import api

    result = api.track(args.source, args.weights, args.cfg, args.out, args.match, args.conf, args.iou, args.img,
                       args.device, video=not args.no_video)
    print(f"{result.name}: {result.frames} frames, {result.tracks} tracks, {result.fps:.1f} frames/s "
          f"(detection + association); wrote {result.results}" + (f" and {result.video}" if result.video else ""))
    return 0
