"""Generate the README's model table from the cfgs in cfg/ (never typed by hand).

    python tools/model_table.py            # print the table
    python tools/model_table.py --readme   # rewrite it in README.md between its markers"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from yolor_cfg.compiler.graph import load_graph
from yolor_cfg.compiler.summary import summarize

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- model-table:start -->", "<!-- model-table:end -->"
# AP on COCO test-dev at the listed size, as the YOLOR paper reports it (None: not reported there)
PAPER_AP = {"yolor_p6": 52.6, "yolor_w6": 54.1, "yolor_e6": 54.8, "yolor_d6": 55.4, "yolov4_p6": 54.5}
ORDER = ["yolor_p6", "yolor_w6", "yolor_e6", "yolor_d6", "yolor_csp", "yolor_csp_x", "yolor_ssss_dwt",
         "yolor_ssss_s2d", "yolov4_csp", "yolov4_p6", "yolor_tiny", "yolov7_tiny", "yolov7", "yolov7x", "yolov7_w6", "yolov7_e6", "yolov7_d6", "yolov7_e6e"]


def table() -> str:
    names = [n for n in ORDER if (ROOT / "cfg" / f"{n}.cfg").exists()]
    names += sorted(p.stem for p in (ROOT / "cfg").glob("*.cfg") if p.stem not in names)
    rows = ["| cfg | input | parameters | GFLOPs | paper AP (test-dev) |", "| --- | --- | --- | --- | --- |"]
    for name in names:
        info = summarize(load_graph(ROOT / "cfg" / f"{name}.cfg"))
        c, h, w = info["input"]
        ap = PAPER_AP.get(name)
        rows.append(f"| `cfg/{name}.cfg` | {w}x{h} | {info['params']:,} | {info['gflops']:.1f} | "
                    f"{f'{ap:.1f}' if ap else '—'} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readme", action="store_true")
    args = ap.parse_args()
    text = table()
    if not args.readme:
        print(text)
        return
    readme = ROOT / "README.md"
    body = readme.read_text()
    new = re.sub(re.escape(START) + ".*?" + re.escape(END), f"{START}\n{text}\n{END}", body, flags=re.S)
    readme.write_text(new)
    print("README.md model table updated")


if __name__ == "__main__":
    main()
