"""The CUDA paths, run on a machine with a GPU (CI has none): parity with the CPU, fp16 with CUDA
graphs, fp16 AMP training with GradScaler, DDP over nccl (torchrun), and the benchmark.

    python tools/cuda_check.py --out DIR [--quick]

Prints each figure and writes DIR/cuda_check.json. Exits 1 when a check fails."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

import yolor_cfg
from yolor_cfg.api import shipped_cfg
from yolor_cfg.workflows.benchmark import run_benchmark
from yolor_cfg.workflows.train.synth import ensure_synth
from yolor_cfg.workflows.train.trainer import TrainOptions, Trainer

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "conformance"


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def parity(report: dict) -> None:
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    fixture = torch.load(FIXTURE / "all_layers.pt", weights_only=True)
    model = yolor_cfg.compile(FIXTURE / "all_layers.cfg")
    model.load_state_dict(fixture["state_dict"], strict=False)
    model = model.cuda().eval()
    with torch.no_grad():
        decoded, _ = model(fixture["x2"].cuda())
    report["all_layers_fixture_rel_err_cuda_fp32"] = relative(decoded, fixture["eval_x2"])
    model.train()
    train = model(fixture["x2"].cuda())
    report["all_layers_train_rel_err_cuda_fp32"] = max(relative(a, b) for a, b in zip(train, fixture["train_x2"]))
    model.eval()
    x = fixture["x2"].cuda()
    runner = model.optimize(dtype=torch.float16, cuda_graph=True)
    with torch.inference_mode():
        runner(x)
        low = runner(x)
    low = low[0] if isinstance(low, tuple) else low
    report["all_layers_fp16_cuda_graph_rel_err"] = relative(low, decoded)


def amp_training(report: dict, out: Path, epochs: int) -> None:
    data = ensure_synth()
    opts = TrainOptions(cfg=str(shipped_cfg("yolor_tiny")), data=str(data), epochs=epochs, batch=32, img=256,
                        nominal_batch=32, device="0", workers=8, project=str(out), name="amp", exist_ok=True,
                        progress=False, hyp_overrides={"warmup_epochs": 1.0})
    t0 = time.time()
    result = Trainer(opts).train()
    rows = (Path(result["save_dir"]) / "results.csv").read_text().strip().splitlines()
    header, last = rows[0].split(","), rows[-1].split(",")
    final = dict(zip(header, last))
    report["amp_training"] = {"epochs": epochs, "seconds": round(time.time() - t0, 1),
                              "mAP50": float(final["mAP50"]), "mAP50_95": float(final["mAP50_95"])}


def ddp(report: dict, out: Path) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "1", "-m", "yolor_cfg", "train",
           "--cfg", str(shipped_cfg("yolor_tiny")), "--data", str(ensure_synth()), "--epochs", "1", "--batch", "32",
           "--device", "0", "--project", str(out), "--name", "ddp", "--exist-ok", "--max-steps", "20"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    report["ddp_nccl_torchrun"] = {"returncode": proc.returncode, "tail": (proc.stdout + proc.stderr)[-800:]}


def benchmark(report: dict, batches: list[int]) -> None:
    model = yolor_cfg.compile(shipped_cfg("yolor_p6"), img_size=640)
    report["benchmark"] = {}
    for batch in batches:  # torch.compile (with CUDA graphs) at batch 1 only: compiling takes minutes
        backends = ["eager", "fused", "fused-lowp"] + (["compile"] if batch == 1 else [])
        report["benchmark"][f"yolor_p6_640_batch{batch}"] = run_benchmark(
            model, 640, batch, "cuda", backends, warmup=5, repeat=30)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/cuda_check")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--only", help="comma-separated steps: parity, amp_training, ddp, benchmark")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("error: no CUDA device")
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    steps = [("parity", lambda: parity(report)), ("amp_training", lambda: amp_training(report, out, args.epochs)),
             ("ddp", lambda: ddp(report, out)), ("benchmark", lambda: benchmark(report, [1, 16]))]
    if args.only:
        steps = [s for s in steps if s[0] in args.only.split(",")]
    failed = []
    for name, step in steps:
        t0 = time.time()
        try:
            step()
        except Exception as exc:  # a report of every step, whichever fails
            report[f"{name}_error"] = repr(exc)
            failed.append(name)
        print(f"{name}: {time.time() - t0:.0f} s", flush=True)
        (out / "cuda_check.json").write_text(json.dumps(report, indent=1, default=str))
    print(json.dumps(report, indent=1, default=str)[:6000])
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
