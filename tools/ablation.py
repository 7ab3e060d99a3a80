"""The YOLOR paper's implicit-knowledge ablation, rerun on the synthetic dataset.

    python tools/ablation.py --write-cfgs        # (re)write cfg/ablation/*.cfg
    python tools/ablation.py [--epochs 4 --n-train 2000] [--out runs/ablation]

Variants (small cfgs in cfg/ablation/, all from the same backbone and neck):
baseline; +iFA (implicit add on the features before each head, as a vector / nn / mf);
+iPR (implicit add on the predictions); xiPR (implicit multiply on the predictions' width and
height only); JDC (a [multilabel] head trained jointly); +iJDC (the same head with implicit add
and multiply); JDE (an [embedding] branch trained jointly) and +iJDE (with implicit add and multiply on
it), which need identities: they and their own baseline train on the synthetic tracking set
(one class, ``--track-epochs``, about as many steps as the others) and also report IDF1 and HOTA of
tracking its held-out val sequences with the embeddings. Each is trained with the same seed; the
table (box mAP@0.5, mAP@0.5:0.95, multi-label mAP or tracking IDF1/HOTA, parameters, GFLOPs, change
against its baseline) goes to ablation.md and a bar chart to ablation.png in --out."""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {  # name: (iFA form, iPR kind, JDC kind, JDE kind)
    "baseline": (None, None, None, None),
    "ifa_vector": ("vector", None, None, None),
    "ifa_nn": ("nn", None, None, None),
    "ifa_mf": ("mf", None, None, None),
    "ipr_add": (None, "add", None, None),
    "ipr_mul_wh": (None, "mul_wh", None, None),
    "jdc": (None, None, "none", None),
    "ijdc": (None, None, "both", None),
    "baseline_tracks": (None, None, None, None),  # the JDE rows' baseline: same data (tracking sequences)
    "jde": (None, None, None, "none"),
    "ijde": (None, None, None, "both"),
}
LABELS = {"baseline": "baseline", "ifa_vector": "+iFA (vector)", "ifa_nn": "+iFA (nn)", "ifa_mf": "+iFA (mf)",
          "ipr_add": "+iPR", "ipr_mul_wh": "xiPR (w,h)", "jdc": "JDC", "ijdc": "+iJDC",
          "baseline_tracks": "baseline (tracking data)", "jde": "JDE", "ijde": "+iJDE"}
TRACKING = ("baseline_tracks", "jde", "ijde")  # trained on the synthetic tracking set (one class, identities)
NA = 3


def _conv(f, k=3, s=1, act="silu", bn=True):
    return (["[convolutional]"] + (["batch_normalize=1"] if bn else []) +
            [f"filters={f}", f"size={k}", f"stride={s}", "pad=1", f"activation={act}"])


def variant_cfg(name: str) -> str:
    ifa, ipr, jdc, jde = VARIANTS[name]
    nc = 1 if name in TRACKING else 3
    sections: list[list[str]] = []

    def add(lines):
        sections.append(lines)
        return len(sections) - 1

    add(["[reorg]"])
    add(_conv(16))
    add(_conv(32, s=2))
    add(_conv(16, k=1)); add(_conv(32)); add(["[shortcut]", "from=-3", "activation=linear"])
    add(_conv(64, s=2)); add(_conv(32, k=1)); add(_conv(64))
    p3 = add(["[shortcut]", "from=-3", "activation=linear"])
    add(_conv(128, s=2)); add(_conv(64, k=1)); add(_conv(128)); add(["[shortcut]", "from=-3", "activation=linear"])
    add(_conv(64, k=1)); add(["[maxpool]", "size=5", "stride=1"]); add(["[route]", "layers=-1,-2"])
    p4 = add(_conv(128, k=1))
    add(_conv(64, k=1)); add(["[upsample]", "stride=2"]); add(["[route]", f"layers=-1,{p3}"])
    p3n = add(_conv(64))
    no = NA * (nc + 5)
    for level, (src, ch, mask) in enumerate(((p3n, 64, "0,1,2"), (p4, 128, "3,4,5"))):
        if ifa:
            form = {"vector": [], "nn": ["model=nn"], "mf": ["model=mf", "atoms=8"]}[ifa]
            ia = add(["[implicit_add]", f"filters={ch}", *form])
            add(["[route]", f"layers={src}"])
            add(["[shift_channels]", f"from={ia}"])
        elif src != len(sections) - 1:
            add(["[route]", f"layers={src}"])
        add(_conv(no, k=1, act="linear", bn=False))
        if ipr == "add":
            head_conv = len(sections) - 1
            ip = add(["[implicit_add]", f"filters={no}"])
            add(["[route]", f"layers={head_conv}"])
            add(["[shift_channels]", f"from={ip}"])
        elif ipr == "mul_wh":
            head_conv = len(sections) - 1
            ip = add(["[implicit_mul]", f"filters={no}", "learn=2,3", f"period={nc + 5}"])
            add(["[route]", f"layers={head_conv}"])
            add(["[control_channels]", f"from={ip}"])
        add(["[yolo]", f"mask={mask}", "anchors=10,13, 19,19, 33,23, 30,61, 62,45, 59,119", f"classes={nc}", "num=6"])
    if jdc:
        add(["[multilabel]", f"from={p4}", f"classes={nc}", f"implicit={jdc}"])
    if jde:
        add(["[route]", f"layers={p3n}"])
        add(_conv(64))
        add(["[embedding]", "dim=64", f"implicit={jde}"])
    header = [f"# ablation/{name}.cfg: {LABELS[name]} on the small YOLOR-style detector (tools/ablation.py).",
              "[net]", "width=256", "height=256", "channels=3", "dialect=yolor", ""]
    body = []
    for i, lines in enumerate(sections):
        body += [f"# {i}", *lines, ""]
    return "\n".join(header + body)


def write_cfgs() -> None:
    out = ROOT / "cfg" / "ablation"
    out.mkdir(parents=True, exist_ok=True)
    for name in VARIANTS:
        (out / f"{name}.cfg").write_text(variant_cfg(name))
        print(f"wrote cfg/ablation/{name}.cfg")


def tracking_scores(weights: Path, data: Path) -> dict:
    """IDF1 and HOTA of tracking the val sequences with the model's embeddings (TrackEval)."""
    from yolor_cfg import api

    metrics, _ = api.val_tracking(str(weights), str(data), match="embed", out=str(weights.parent / "val_track"))
    return {"idf1": metrics["COMBINED"]["IDF1"], "hota": metrics["COMBINED"]["HOTA"]}


def run(epochs: int, n_train: int, out: Path, seed: int, only: list[str] | None = None, track_epochs: int = 30) -> None:
    from yolor_cfg.compiler.graph import load_graph
    from yolor_cfg.compiler.summary import summarize
    from yolor_cfg.workflows.train.synth import ensure_synth
    from yolor_cfg.workflows.train.synth_tracks import ensure_synth_tracks
    from yolor_cfg.workflows.train.trainer import TrainOptions, Trainer

    detection_data, tracking_data = ensure_synth(n_train=n_train, n_val=200), ensure_synth_tracks()
    saved = out / "ablation.json"
    previous = {r["variant"]: r for r in json.loads(saved.read_text())} if only and saved.is_file() else {}
    rows = []
    for name in VARIANTS:
        if only and name not in only:
            if name in previous:
                rows.append(previous[name])
            continue
        cfg = ROOT / "cfg" / "ablation" / f"{name}.cfg"
        info = summarize(load_graph(cfg))
        data = tracking_data if name in TRACKING else detection_data
        opts = TrainOptions(cfg=str(cfg), data=str(data), epochs=track_epochs if name in TRACKING else epochs, batch=16,
                            img=256, nominal_batch=16, workers=2,
                            project=str(out), name=name, exist_ok=True, seed=seed, progress=False,
                            hyp_overrides={"warmup_epochs": 1.0})
        result = Trainer(opts).train()
        last = list(csv.DictReader(open(Path(result["save_dir"]) / "results.csv")))[-1]
        rows.append({"variant": name, "label": LABELS[name], "map50": float(last["mAP50"]),
                     "map": float(last["mAP50_95"]), "mlc_map": float(last["mlc_mAP"]) if last["mlc_mAP"] else None,
                     "params": info["params"], "gflops": info["gflops"],
                     **(tracking_scores(Path(result["last"]), data) if VARIANTS[name][3] else {})})
        print(json.dumps(rows[-1]))
    (out / "ablation.json").write_text(json.dumps(rows, indent=1))
    write_report(rows, out)


def write_report(rows: list[dict], out: Path) -> None:
    lines = ["| variant | box mAP@0.5 | mAP@0.5:0.95 | multi-label mAP / tracking IDF1, HOTA | parameters | GFLOPs | "
             "params vs baseline | mAP@0.5 vs baseline |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    by_name = {r["variant"]: r for r in rows}
    baselines = {False: by_name.get("baseline", rows[0]), True: by_name.get("baseline_tracks", rows[0])}
    for r in rows:
        base = baselines[r["variant"] in TRACKING]
        dp = 100 * (r["params"] - base["params"]) / base["params"]
        dm = 100 * (r["map50"] - base["map50"]) / max(base["map50"], 1e-9)
        task = (f"{r['mlc_map']:.3f}" if r.get("mlc_map") is not None else
                f"IDF1 {r['idf1']:.3f}, HOTA {r['hota']:.3f}" if "idf1" in r else "—")
        lines.append(f"| {r['label']} | {r['map50']:.3f} | {r['map']:.3f} | {task} | {r['params']:,} | {r['gflops']:.3f} | "
                     f"{dp:+.3f}% | {dm:+.1f}% |")
    (out / "ablation.md").write_text("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4), dpi=110)
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r["map50"] for r in rows], 0.4, label="mAP@0.5")
    ax.bar([i + 0.2 for i in x], [r["map"] for r in rows], 0.4, label="mAP@0.5:0.95")
    ax.set_xticks(list(x), [r["label"] for r in rows], rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.set_title("implicit knowledge ablation (synthetic shapes, same seed and epochs)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "ablation.png")
    plt.close(fig)
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write-cfgs", action="store_true")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/ablation")
    ap.add_argument("--only", help="rerun only these variants (comma-separated), keeping the others' results")
    ap.add_argument("--track-epochs", type=int, default=30, help="epochs of the rows trained on tracking sequences")
    args = ap.parse_args()
    if args.write_cfgs:
        write_cfgs()
        return
    run(args.epochs, args.n_train, Path(args.out), args.seed, args.only.split(",") if args.only else None,
        args.track_epochs)


if __name__ == "__main__":
    main()
