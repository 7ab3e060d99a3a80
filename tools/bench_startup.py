"""Benchmark: how long a command takes before it does anything (imports), per command.

    python tools/bench_startup.py [--root CHECKOUT] [--repeat 5]

Runs ``yolor-cfg --help``, ``export --help``, ``check cfg/yolor_p6.cfg`` and ``info cfg/yolor_p6.cfg``
in fresh Python processes from the package in CHECKOUT (default: this one; give a worktree of an
older commit to compare) and prints the median wall time of each, with the CPU, in one run."""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
COMMANDS = (["--help"], ["export", "--help"], ["check", "cfg/yolor_p6.cfg"], ["info", "cfg/yolor_p6.cfg"])


def seconds(root: Path, argv: list[str], repeat: int) -> float:
    code = (f"import sys; sys.path.insert(0, {str(root)!r}); from yolor_cfg.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(HERE), help="a checkout of yolor-cfg (default: this one)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from yolor_cfg.core import cpu

    print(f"CPU: {cpu.describe()}; package from {args.root}")
    for argv in COMMANDS:
        print(f"yolor-cfg {' '.join(argv):<28} {seconds(Path(args.root), argv, args.repeat):6.2f} s")


if __name__ == "__main__":
    main()
