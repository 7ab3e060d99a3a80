"""Every command's arguments survive plausible mistakes: no traceback, no silent wrong result, nothing left
behind; the wrong values are generated from the role of every option of every discovered command."""
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import yolor_cfg
from yolor_cfg.cli import main
from yolor_cfg.cli import commands as cli_commands
from yolor_cfg.core.errors import WeightsError
from yolor_cfg.workflows.train.data import DataConfig
from yolor_cfg.workflows.train.synth import build_synth

from tests.helpers import TINY_CFG as CFG, cli_subparser, run_cli, shared_path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    (root / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (root / "empty.pt").write_bytes(b"")
    model = yolor_cfg.compile(CFG, img_size=64)
    model.save_weights(root / "w.pt")
    (root / "bad.yaml").write_text("nc: 3\nnames: [a, b\n")
    return root


@pytest.mark.parametrize("argv, message", [
    (["train", "--cfg", CFG, "--resume", "/nonexist.pt"], "no such file"),
    (["train", "--cfg", CFG, "--weights", "/nonexist.pt"], "no such file"),
    (["val", "--cfg", CFG, "--weights", "/nonexist.pt"], "no such file"),
    (["export", "--cfg", CFG, "--weights", "/nonexist.pt", "--out", "{tmp}/x.onnx"], "no such file"),
    (["benchmark", "--cfg", CFG, "--weights", "/nonexist.pt"], "no such file"),
    (["convert", "--cfg", CFG, "--weights", "/nonexist.pt", "--out", "{tmp}/x.pt"], "no such file"),
    (["train", "--cfg", CFG, "--hyp", "/nonexist.yaml"], "no such file"),
    (["detect", "--onnx", "/nonexist.onnx", "--source", "{tmp}"], "no such file"),
    (["verify", "--cfg", CFG, "--onnx", "/nonexist.onnx"], "no such file"),
    (["train", "--cfg", CFG, "--data", "{files}/binary.bin", "--project", "{tmp}"], "binary file"),
    (["train", "--cfg", CFG, "--hyp", "{files}/binary.bin", "--project", "{tmp}"], "binary file"),
    (["detect", "--onnx", "{files}/w.pt", "--source", "{tmp}"], "not a readable ONNX model"),
    (["verify", "--cfg", CFG, "--onnx", "{files}/w.pt"], "not a readable ONNX model"),
    (["yaml2cfg", "{files}/bad.yaml", "{tmp}/x.cfg"], "YAML syntax error"),
    (["train", "--cfg", CFG, "--batch", "0"], "--batch"),
    (["train", "--cfg", CFG, "--epochs", "0"], "--epochs"),
    (["train", "--cfg", CFG, "--epochs", "-1"], "--epochs"),
    (["train", "--cfg", CFG, "--nbs", "0"], "--nbs"),
    (["train", "--cfg", CFG, "--workers", "-1"], "--workers"),
    (["val", "--cfg", CFG, "--batch", "0"], "--batch"),
    (["export", "--cfg", CFG, "--batch", "0", "--out", "{tmp}/x.onnx"], "--batch"),
    (["benchmark", "--cfg", CFG, "--batch", "0"], "--batch"),
    (["benchmark", "--cfg", CFG, "--repeat", "0"], "--repeat"),
    (["export", "--cfg", CFG, "--opset", "5", "--out", "{tmp}/x.onnx"], "opset 5 is not supported"),
    (["export", "--cfg", CFG, "--opset", "99", "--out", "{tmp}/x.onnx"], "opset 99 is not supported"),
    (["data", "synth", "--img", "0", "--out", "{tmp}/d"], "--img"),
    (["export", "--cfg", CFG, "--img", "100000", "--out", "{tmp}/x.onnx"], "8192 is the limit"),
    (["export", "--cfg", CFG, "--out", "{tmp}/missing/x.onnx"], "does not exist"),
    (["convert", "--cfg", CFG, "--weights", "{files}/w.pt", "--out", "{tmp}/missing/x.weights"], "does not exist"),
    (["draw", CFG, "--out", "{tmp}/missing/x.svg"], "does not exist"),
    (["set-classes", CFG, "2", "--out", "{tmp}/missing/x.cfg"], "does not exist"),
    (["export", "--cfg", CFG, "--out", "{tmp}"], "is a folder"),
    (["val", "--cfg", CFG, "--out", "/etc/passwd"], "is a file, not a folder"),
    (["detect", "--cfg", CFG, "--source", "{tmp}", "--out", "/etc/passwd"], "is a file, not a folder"),
    (["data", "synth", "--out", "/etc/passwd"], "is a file, not a folder"),
    (["benchmark", "--cfg", CFG, "--backends", "bogus"], "unknown backend bogus"),
    (["draw", CFG, "--out", "{tmp}/x.bmp"], "must end in .svg"),
    (["export", "--cfg", CFG, "--nms", "--iou", "-1", "--out", "{tmp}/x.onnx"], "--iou"),
    (["detect", "--cfg", CFG, "--source", "{tmp}", "--conf", "2"], "--conf"),
    (["val", "--cfg", CFG, "--iou", "-1"], "--iou"),
    (["train", "--cfg", CFG, "--device", "banana"], "use cpu, or CUDA device numbers"),
    (["train", "--cfg", CFG, "--device", "cuda"], "use cpu, or CUDA device numbers"),
    (["val", "--cfg", CFG, "--weights", "{files}/empty.pt"], "the file is empty (0 bytes)"),
])
def test_mistake_is_a_message_not_a_traceback(capsys, tmp_path, files, argv, message):
    argv = [a.format(tmp=tmp_path, files=files) for a in argv]
    before = set(tmp_path.rglob("*"))
    code, out = run_cli(capsys, *argv)
    assert code in (1, 2) and "Traceback" not in out and message in out, out
    assert set(tmp_path.rglob("*")) == before  # nothing written, nothing half-written


def test_traceback_switch_shows_the_stack(files, monkeypatch):
    argv = ["val", "--cfg", CFG, "--weights", str(files / "empty.pt"), "--data", "synth"]
    with pytest.raises(WeightsError):
        main(["--traceback", *argv])
    monkeypatch.setenv("YOLOR_CFG_DEBUG", "1")
    with pytest.raises(WeightsError):
        main(argv)


# ---- property: random plausible bad values, every subcommand ----
# Every value drawn here is wrong for its option, so every command must end in 1 or 2, say why, and
# write nothing (a value that passed would start real work: that is a gap in the checks).

BAD_COUNTS = ["0", "-1", "-5", "1e9", "abc", "", "2.5", "99999999", "nan"]  # options that need 1 or more
BAD_NONNEG = ["-1", "-5", "abc", "", "2.5", "99999999", "nan"]  # options where 0 is fine
BAD_PROBS = ["-1", "2", "1.5", "nan", "x", "", "-0.1"]
BAD_INPUTS = ["{tmp}/missing/x", "/nonexist", "", "{tmp}", "{tmp}/junk.bin",  # files to read
              # foreign files in the slot: empty, comment-only, a YAML of list-valued keys
              "{tmp}/empty.txt", "{tmp}/comment.cfg", "{tmp}/lists.yaml"]
BAD_OUT_FILES = ["{tmp}/missing/x.onnx", "", "{tmp}", "{tmp}/junk.bin/x.onnx"]
BAD_OUT_DIRS = ["", "/etc/passwd", "{tmp}/junk.bin", "{tmp}/junk.bin/sub"]

# Wrong values by what an option is (the ``role`` its argparse type declares, see cli/common.py);
# the cases below are generated from every command's parser, so a new option or command is covered.
ROLE_BAD = {"count": BAD_COUNTS, "count0": BAD_NONNEG, "probability": BAD_PROBS,
            "count+": ["0", "-1", "abc", "", "2.5", "nan"], "count0+": ["-1", "-5", "abc", "", "2.5", "nan"],
            "input": BAD_INPUTS + ["/etc/passwd"], "output_file": BAD_OUT_FILES, "output_dir": BAD_OUT_DIRS,
            "size": ["0", "-1", "abc", "", "2.5", "nan"], "device": ["banana", "cuda", "-1", "", "0,x"],
            "tolerance": ["-1", "nan", "x", "", "inf"], "number": ["nan", "inf", "x", ""],
            "choice": ["bogus", ""], "backends": ["bogus", "", "eager,nope", ","]}

# Cases no role states: a file in the wrong role, an output pointed at one of the command's own inputs.
EXTRA_CASES = [
    ("convert", ["--out"], ["{tmp}/w.txt"]), ("draw", ["--out"], ["{tmp}/x.bmp"]),
    ("train", ["--weights"], ["{tmp}/net.cfg"]), ("val", ["--weights"], ["{tmp}/net.cfg"]),
    ("export", ["--weights"], ["{tmp}/net.cfg"]), ("convert", ["--weights"], ["{tmp}/net.cfg"]),
    ("convert", ["--out"], ["{tmp}/w.pt"]), ("yaml2cfg", ["out"], ["{tmp}/model.yaml"]),
    ("export", ["--out"], ["{tmp}/w.pt"]), ("detect", ["--out"], ["{tmp}/images"]),
    ("data synth", ["--out"], ["{tmp}/data"]),
]

BASE = {
    "train": ["train", "--cfg", CFG, "--data", "{data}", "--img", "64", "--epochs", "1", "--workers", "0",
              "--project", "{tmp}/runs"],
    "val": ["val", "--cfg", CFG, "--data", "{data}", "--img", "64", "--out", "{tmp}/val"],
    "export": ["export", "--cfg", CFG, "--weights", "{tmp}/w.pt", "--img", "64", "--out", "{tmp}/x.onnx"],
    "detect": ["detect", "--cfg", CFG, "--source", "{tmp}/images", "--img", "64", "--out", "{tmp}/det"],
    "track": ["track", "--weights", "{tmp}/w.pt", "--source", "{tmp}/images", "--match", "iou", "--out", "{tmp}/trk"],
    "benchmark": ["benchmark", "--cfg", CFG, "--img", "64", "--repeat", "1"],
    "convert": ["convert", "--cfg", CFG, "--weights", "{tmp}/w.pt", "--out", "{tmp}/w2.pt"],
    "draw": ["draw", CFG, "--out", "{tmp}/net.dot"],
    "set-classes": ["set-classes", CFG, "classes", "--out", "{tmp}/x.cfg"],
    "data synth": ["data", "synth", "--out", "{tmp}/synth"],
    "info": ["info", CFG], "check": ["check", CFG],
    "yaml2cfg": ["yaml2cfg", "yaml", "out"],
    "verify": ["verify", "--cfg", CFG, "--onnx", "{tmp}/missing.onnx"],
    "demo": ["demo", "--out", "{tmp}/demo", "--n-train", "2", "--n-val", "2", "--epochs", "1", "--workers", "0"],
    "import": ["import", "checkpoint", "--out", "{tmp}/imported"],
}


def generated_cases() -> list[tuple[str, list[str], list[str]]]:
    """(command, [option], wrong values) for every option of every command whose kind of value is known;
    a positional takes part where BASE names it by its dest."""
    cases = []
    for command, argv in BASE.items():
        for action in cli_subparser(command)._actions:
            role = getattr(action.type, "role", None) or ("choice" if action.choices else None)
            flag = action.option_strings[-1] if action.option_strings else action.dest
            if role and (action.option_strings or flag in argv):
                cases.append((command, [flag], ROLE_BAD[role]))
    return cases


CASES = generated_cases() + EXTRA_CASES


def test_every_command_has_a_mistake_case():
    commands = set(cli_commands())
    named = {c.split()[0] for c in BASE}
    assert commands <= named, f"add a BASE command line for {sorted(commands - named)}"
    covered = {c for c, _, _ in CASES}
    assert set(BASE) <= covered


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    from yolor_cfg.workflows.train.data import build_index

    tmp = tmp_path_factory.mktemp("sandbox")
    (tmp / "junk.bin").write_bytes(b"\x00\x01junk" * 50)
    (tmp / "w.txt").write_text("")
    (tmp / "empty.txt").write_text("")
    (tmp / "comment.cfg").write_text("# Testing\n")
    (tmp / "net.cfg").write_text(Path(CFG).read_text())
    (tmp / "lists.yaml").write_text("train: [[1, 2], 3]\nval: [3]\nnc: [2]\nnames: [[a]]\n")
    (tmp / "images").mkdir()
    (tmp / "images" / "a.png").write_bytes(b"\x89PNG not really")
    (tmp / "model.yaml").write_text(shared_path("reference-arch", "paper_modules_mini.yaml").read_text())
    yolor_cfg.compile(CFG, img_size=64).save_weights(tmp / "w.pt")
    data = build_synth(tmp / "data", n_train=2, n_val=2, img=64, seed=0)
    for split in ("train", "val"):
        build_index(DataConfig.load(data), split)  # the label cache exists before any case runs
    return tmp, data


POSITIONAL = {"yaml": "{tmp}/model.yaml", "out": "{tmp}/x.cfg", "classes": "2",  # valid unless drawn
              "checkpoint": "{tmp}/w.pt"}


def _argv(command, bad: dict, tmp, data):
    bad = {flag: value.format(tmp=tmp) for flag, value in bad.items()}
    argv = [bad.get(a, POSITIONAL.get(a, a).format(tmp=tmp, data=data)) if not a.startswith("--") else a
            for a in BASE[command]]
    for flag, value in bad.items():
        if not flag.startswith("--"):
            continue  # a positional, placed above
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    return argv


@st.composite
def bad_commands(draw):
    """A command with one or two wrong values (each for a different option)."""
    command = draw(st.sampled_from(sorted(BASE)))
    options = [(flag, values) for c, flags, values in CASES if c == command for flag in flags]
    chosen = draw(st.lists(st.sampled_from(options), min_size=1, max_size=2, unique_by=lambda o: o[0]))
    return command, {flag: draw(st.sampled_from(values)) for flag, values in chosen}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=bad_commands())
def test_random_bad_arguments_never_trace_back_or_leave_files(sandbox, capsys, case):
    tmp, data = sandbox
    argv = _argv(*case, tmp, data)
    before = {p: p.read_bytes() if p.is_file() else None for p in tmp.rglob("*")}
    code, out = run_cli(capsys, *argv)
    assert code in (1, 2), (argv, out)
    assert "Traceback" not in out and "error" in out, (argv, out)
    after = {p: p.read_bytes() if p.is_file() else None for p in tmp.rglob("*")}
    assert after == before, argv  # no file added, removed or changed: inputs byte for byte as they were


@pytest.mark.parametrize("argv, message", [
    (["convert", "--cfg", "{tmp}/net.cfg", "--weights", "{tmp}/w.pt", "--out", "{tmp}/w.pt"], "is the input"),
    (["set-classes", "{tmp}/net.cfg", "2", "--out", "{tmp}/net.cfg"], "is the input"),
    (["yaml2cfg", "{tmp}/model.yaml", "{tmp}/model.yaml"], "is the input"),
    (["draw", "{tmp}/net.cfg", "--out", "{tmp}/net.cfg"], "the name must end in .svg"),  # its suffix rule first
    (["export", "--cfg", "{tmp}/net.cfg", "--weights", "{tmp}/w.pt", "--out", "{tmp}/net.cfg"], "is the input"),
    (["detect", "--cfg", "{tmp}/net.cfg", "--weights", "{tmp}/w.pt", "--source", "{tmp}/images", "--out",
      "{tmp}/images"], "give another output folder"),
    (["data", "synth", "--out", "{tmp}/data"], "exists and is not empty"),
])
def test_no_command_writes_over_its_inputs(sandbox, capsys, argv, message):
    """Each command's output pointed at one of its own inputs: refused, every file byte for byte as before."""
    tmp, _ = sandbox
    before = {p: p.read_bytes() if p.is_file() else None for p in tmp.rglob("*")}
    code, out = run_cli(capsys, *[a.format(tmp=tmp) for a in argv])
    assert code in (1, 2) and message in out, out
    assert {p: p.read_bytes() if p.is_file() else None for p in tmp.rglob("*")} == before
