import re
import subprocess
import sys

from yolor_cfg.cli import main

from tests.helpers import shared_path

DIAG = re.compile(r"^.+:\d+:\d+: (error|warning): .+$")


def test_check_valid_and_invalid_files(capsys, write_cfg):
    good = shared_path("reference-cfg", "yolor", "yolor_p6.cfg")
    bad = write_cfg("[net]\nwidth=64\nheight=64\n[convolutional]\nfilters=8\nsiez=3\n[route]\nlayers=5\n")
    assert main(["check", str(good)]) == 0
    assert main(["check", str(good), str(bad)]) == 2
    out = capsys.readouterr().out.splitlines()
    errors = [line for line in out if ": error: " in line]
    assert errors == [f"{bad}:6:1: error: unknown key 'siez' in [convolutional]; did you mean 'size'?",
                      f"{bad}:8:8: error: [route] layers=5 points forward to layer 5 (this is layer 1; the file has 2 layers)"]


def test_warnings_keep_exit_code_zero(capsys):
    # yolov4-csp.cfg repeats keys in [net] (batch, momentum ...)
    assert main(["check", str(shared_path("reference-cfg", "darknet", "yolov4.cfg"))]) == 0


def test_repeated_key_warning_position(capsys, write_cfg):
    path = write_cfg("[net]\nbatch=64\nwidth=32\nheight=32\nbatch=8\n[convolutional]\nfilters=4\n")
    assert main(["check", str(path)]) == 0
    assert f"{path}:5:1: warning: 'batch' repeated in [net]" in capsys.readouterr().out


def test_check_never_tracebacks_on_bytes(tmp_path):
    cases = {"empty.cfg": b"", "binary.cfg": bytes(range(256)) * 8, "garbage.cfg": b"[net]\nwidth=" + b"z" * 1_000_000,
             "latin1.cfg": "[net]\nwidth=64 # caf\xe9\n".encode("latin-1"), "utf16.cfg": "[net]\n".encode("utf-16")}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    result = subprocess.run([sys.executable, "-m", "yolor_cfg", "check", *sorted(str(p) for p in tmp_path.iterdir())],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stdout.splitlines() if line]
    assert len(lines) == len(cases) and all(DIAG.match(line) for line in lines), lines
