"""Benchmark: parse + graph build time of a cfg (default: yolov4_p7, the largest reference cfg).

    python tools/bench_parse.py [CFG] [--repeat 20]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "reference-cfg" / "yolor" / "yolov4_p7.cfg"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cfg", nargs="?", default=str(DEFAULT))
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    t0 = time.perf_counter()
    import yolor_cfg  # noqa: F401

    t_import = time.perf_counter() - t0
    from yolor_cfg.compiler.graph import load_graph

    load_graph(args.cfg)  # warm: grammar compiled once per process
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        load_graph(args.cfg)
        times.append(time.perf_counter() - t)
    print(f"import yolor_cfg: {t_import * 1000:.1f} ms")
    print(f"parse + build {Path(args.cfg).name}: median {statistics.median(times) * 1000:.1f} ms, "
          f"min {min(times) * 1000:.1f} ms over {args.repeat} runs")


if __name__ == "__main__":
    main()
