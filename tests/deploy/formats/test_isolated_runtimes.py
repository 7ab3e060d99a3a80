"""The NCNN and LiteRT tests (test_ncnn.py, test_tflite.py) in pytest processes of their own: each runtime brings
native thread pools of its own (ncnn its own OpenMP runtime beside torch's, LiteRT XNNPACK's), and after either
ran inference inside the full suite's process, that process died of SIGSEGV a few hundred tests later,
reproducibly, in a test that only waits for a child process (bisected: without both files the same tests pass)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ISOLATED = "YOLOR_CFG_ISOLATED_TESTS"


@pytest.mark.parametrize("name", ["test_ncnn.py", "test_tflite.py"])
def test_in_their_own_process(name, request):
    marks = request.config.getoption("-m")
    env = dict(os.environ, **{ISOLATED: "1"})
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(["-m", marks] if marks else []),
                           str(Path(__file__).with_name(name))], env=env, capture_output=True, text=True,
                          cwd=Path(__file__).parents[3])
    if done.returncode == 5 or "skipped" in done.stdout.splitlines()[-1] and " passed" not in done.stdout:
        pytest.skip(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
