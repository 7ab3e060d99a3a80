"""Benchmark: train the small shipped cfg on the synthetic set and report mAP@0.5 against time.

    python tools/train_synth.py [--epochs 4] [--cfg cfg/yolor_tiny.cfg] [--out runs/bench]

Prints one line per epoch (wall time since start, mAP@0.5, mAP@0.5:0.95) and the time at which
mAP@0.5 first reached 0.7 (the issue's target: within 15 minutes on 2 CPU cores)."""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from yolor_cfg.api import shipped_cfg
from yolor_cfg.workflows.train.synth import ensure_synth
from yolor_cfg.workflows.train.trainer import TrainOptions, Trainer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cfg", default=str(shipped_cfg("yolor_tiny")))
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--out", default="runs/bench")
    args = ap.parse_args()
    t0 = time.time()
    data = ensure_synth()
    t_data = time.time() - t0
    opts = TrainOptions(cfg=args.cfg, data=str(data), epochs=args.epochs, batch=16, img=256, nominal_batch=16,
                        workers=2, project=str(Path(args.out).parent), name=Path(args.out).name, progress=False,
                        hyp_overrides={"warmup_epochs": 1.0})
    result = Trainer(opts).train()
    rows = list(csv.DictReader(open(Path(result["save_dir"]) / "results.csv")))
    elapsed, reached = t_data, None
    print(f"dataset ready after {t_data:.0f} s")
    for r in rows:
        elapsed += float(r["epoch_s"])
        print(f"epoch {r['epoch']}: {elapsed:6.0f} s  mAP@0.5 {float(r['mAP50']):.3f}  mAP@0.5:0.95 {float(r['mAP50_95']):.3f}")
        if reached is None and float(r["mAP50"]) >= 0.7:
            reached = elapsed
    print(f"mAP@0.5 >= 0.7 after {reached:.0f} s" if reached else "mAP@0.5 never reached 0.7")


if __name__ == "__main__":
    main()
