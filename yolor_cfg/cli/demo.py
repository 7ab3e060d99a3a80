"""``yolor-cfg demo``: the whole product on a fresh machine, nothing downloaded.

Builds the synthetic dataset, trains the small shipped cfg on the CPU, evaluates it with
pycocotools, exports a fused ONNX model (checked against PyTorch) and an INT8 one (calibrated,
accuracy-guarded), detects on a few val images with the INT8 model and says where everything is."""
from __future__ import annotations

import time
from pathlib import Path

from .common import count, finite_number, output_dir

# Short runs need a short warm-up; everything else is YOLOR's scratch recipe.
DEMO_HYP = {"warmup_epochs": 1.0}


def add_parser(sub):
    p = sub.add_parser("demo", help="build data, train, evaluate, export and detect, all on the CPU")
    p.add_argument("--epochs", type=count(1, 10_000), default=4)
    p.add_argument("--n-train", type=count(1, 1_000_000), default=2000)
    p.add_argument("--n-val", type=count(1, 1_000_000), default=200)
    p.add_argument("--out", default="runs/demo", type=output_dir("demo output folder"))
    p.add_argument("--workers", type=count(0, 256), default=2)
    p.add_argument("--calib", type=count(1, 100_000), default=300, help="INT8 calibration images")
    p.add_argument("--max-drop", type=finite_number(), default=1.0,
                   help="INT8 accuracy guard: allowed mAP@0.5 drop in points (exit 1 beyond it)")

class _Steps:
    """Numbered step headers, each closed with its elapsed time."""

    def __init__(self, total: int):
        self.total, self.n, self.started, self.times = total, 0, None, []

    def __call__(self, title: str) -> None:
        self.close()
        self.n += 1
        self.started = time.time()
        print(f"[{self.n}/{self.total}] {title}", flush=True)

    def close(self) -> None:
        if self.started is not None:
            self.times.append(time.time() - self.started)
            print(f"      ({self.times[-1]:.1f} s)", flush=True)
            self.started = None


def run(args) -> int:
    from .. import api
    from ..core import cpu
    from ..core.files import claim_run_dir
    from ..core.images import IMAGE_SUFFIXES

    t0 = time.time()
    out = claim_run_dir(str(Path(args.out).parent), Path(args.out).name)
    step = _Steps(6)
    print(f"CPU: {cpu.describe()}")
    step(f"synthetic dataset ({args.n_train} train / {args.n_val} val images, 3 shape classes)")
    data = api.synth(args.n_train, args.n_val)
    print(f"      {data.parent}")
    cfg = api.shipped_cfg("yolor_tiny")
    step(f"training {cfg.name} for {args.epochs} epochs on the CPU")
    run = api.train(cfg, data=data, epochs=args.epochs, batch=16, img=256, nominal_batch=16, workers=args.workers,
                    project=str(out.parent), name=out.name, exist_ok=True, hyp_overrides=DEMO_HYP)
    step(f"evaluating {run.best} on the val split (pycocotools)")
    model = api.load(run.best).eval()
    val = api.val(model, data=data, img=256, batch=32, workers=args.workers, out=out / "val")
    step("exporting ONNX (fused, parity-checked)")
    onnx_path = out / "yolor_tiny.onnx"
    print(api.export(model, onnx_path, dynamic=True).format())
    step(f"exporting INT8 ONNX (calibrated on {args.calib} train images, accuracy-guarded on the val split; "
         "the sensitivity search keeps float what quantization hurts if the first try misses the guard)")
    int8_path = out / "yolor_tiny_int8.onnx"
    api.export(model, int8_path, int8=True, data=str(data), calib=args.calib, max_drop=args.max_drop, dynamic=True)
    step("detecting on 4 val images with the INT8 model (onnxruntime)")
    sample = out / "samples"
    sample.mkdir(parents=True, exist_ok=True)
    for image in sorted(p for p in (data.parent / "images" / "val").iterdir() if p.suffix in IMAGE_SUFFIXES)[:4]:
        (sample / image.name).write_bytes(image.read_bytes())
    api.detect(sample, weights=int8_path, out=out / "detect", progress=False)
    step.close()
    _summary(out, (time.time() - t0) / 60, val, step.times, run.best, onnx_path, int8_path)
    return 0


def _summary(out: Path, minutes: float, val, times: list[float], best: Path, onnx_path: Path, int8_path: Path):
    print(f"\ndemo finished in {minutes:.1f} min: mAP@0.5 {val.map50:.3f}, mAP@0.5:0.95 {val.map:.3f}")
    print("  step times     " + ", ".join(f"{k + 1}: {t:.0f} s" for k, t in enumerate(times)))
    print(f"  checkpoint     {best}")
    print(f"  metrics        {out / 'val' / 'metrics.json'}")
    print(f"  PR curve       {out / 'val' / 'pr_curve.png'}")
    print(f"  training plots {out / 'results.png'} ({out / 'results.csv'})")
    print(f"  ONNX           {onnx_path} (INT8: {int8_path})")
    print(f"  detections     {out / 'detect'}")
