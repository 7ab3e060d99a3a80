"""Regenerate the model zoo in cfg/: the YOLOR paper's networks.

    python tools/make_zoo.py [--shared ../shared]

P6, W6, CSP, CSP-X and the YOLOv4 baselines are re-emitted from the YOLOR reference cfgs in our
house style (same layers and options, with comments); E6, D6 and the SSSS variants are converted
from the paper branch's YAML (yolor-cfg yaml2cfg), since no cfg of them existed."""
from __future__ import annotations

import argparse
from pathlib import Path

from yolor_cfg.compiler.cfgtext import annotate
from yolor_cfg.compiler.frontend import parse_file, parse_text
from yolor_cfg.compiler.graph import build_graph
from yolor_cfg.compiler.summary import summarize
from yolor_cfg.compiler.yaml2cfg import yaml_to_cfg

ROOT = Path(__file__).resolve().parents[1]

FROM_CFG = {
    "yolor_csp": ("yolor_csp.cfg", "YOLOR-CSP: CSPDarknet53 backbone, PAN neck, 3 heads with implicit knowledge"),
    "yolor_csp_x": ("yolor_csp_x.cfg", "YOLOR-CSP-X: the wider, deeper YOLOR-CSP"),
    "yolor_p6": ("yolor_p6.cfg", "YOLOR-P6: space-to-depth stem, CSP stages to stride 64, 4 heads with implicit knowledge"),
    "yolor_w6": ("yolor_w6.cfg", "YOLOR-W6: the wider YOLOR-P6"),
    "yolov4_csp": ("yolov4_csp.cfg", "YOLOv4-CSP (scaled-YOLOv4): the baseline YOLOR-CSP adds implicit knowledge to"),
    "yolov4_p6": ("yolov4_p6.cfg", "YOLOv4-P6 (scaled-YOLOv4): the P6 baseline"),
}
FROM_YAML = {
    "yolor_e6": ("yolor-e6.yaml", "YOLOR-E6: YOLOR-W6 with DownC down-sampling (the paper's E6)"),
    "yolor_d6": ("yolor-d6.yaml", "YOLOR-D6: the deeper YOLOR-E6 (the paper's D6)"),
    "yolor_ssss_dwt": ("yolor-ssss-dwt.yaml", "YOLOR-SSSS with a wavelet (DWT) stem"),
    "yolor_ssss_s2d": ("yolor-ssss-s2d.yaml", "YOLOR-SSSS with a space-to-depth stem"),
    "yolov7_tiny": ("yolov7/yolov7-tiny.yaml", "yolov7-tiny (training form): LeakyReLU, ELAN blocks, IDetect"),
    "yolov7": ("yolov7/yolov7.yaml", "yolov7 (training form): ELAN, MP, SPPCSPC, RepConv heads, IDetect"),
    "yolov7x": ("yolov7/yolov7x.yaml", "yolov7x (training form): the wider yolov7"),
    "yolov7_w6": ("yolov7/yolov7-w6.yaml", "yolov7-w6 (training form): P6, ReOrg stem, IAuxDetect"),
    "yolov7_e6": ("yolov7/yolov7-e6.yaml", "yolov7-e6 (training form): yolov7-w6 with DownC, IAuxDetect"),
    "yolov7_d6": ("yolov7/yolov7-d6.yaml", "yolov7-d6 (training form): the deeper yolov7-e6"),
    "yolov7_e6e": ("yolov7/yolov7-e6e.yaml", "yolov7-e6e (training form): E-ELAN blocks with Shortcut, IAuxDetect"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = ap.parse_args()
    shared = Path(args.shared)
    for name, (file, title) in FROM_CFG.items():
        source = parse_file(shared / "reference-cfg" / "yolor" / file)
        text = annotate(source, build_graph(source), f"{name}.cfg: {title}.",
                        ["Same network as the YOLOR reference cfg of this name."])
        # the YOLOR repository means its own semantics even where no section or key says so
        text = text.replace("[net]\n", "[net]\n# YOLOR's semantics (BN eps 1e-4, scaled-YOLOv4 decoding)\ndialect=yolor\n", 1)
        (ROOT / "cfg" / f"{name}.cfg").write_text(text)
        print(f"wrote cfg/{name}.cfg")
    for name, (file, title) in FROM_YAML.items():
        converted = yaml_to_cfg(shared / "reference-arch" / file)
        info = summarize(build_graph(parse_text(converted, f"{name}.cfg")))
        aux = " (auxiliary heads, training only, included; fuse() removes them)" if "aux=1" in converted else ""
        header = [f"# {name}.cfg: {title}.",
                  f"# Input {info['input'][2]}x{info['input'][1]}x3; {info['params']:,} parameters; "
                  f"{info['gflops']:.3f} GFLOPs at {info['input'][2]}x{info['input'][1]}{aux}.",
                  "# The #@keymap lines at the end load the paper branch's state dicts (model.load_weights)."]
        (ROOT / "cfg" / f"{name}.cfg").write_text("\n".join(header) + "\n" + converted)
        print(f"wrote cfg/{name}.cfg")


if __name__ == "__main__":
    main()
