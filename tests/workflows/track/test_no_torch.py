"""Tracking is NumPy-only: it runs beside any runtime, and its optional libraries load on first use."""
import subprocess
import sys


def test_tracking_imports_neither_torch_nor_trackeval():
    script = ("import sys, numpy as np\n"
              "from yolor_cfg.workflows.track import kalman, association, tracker, mot, metrics\n"
              "t = tracker.Tracker()\n"
              "t.update([[0, 0, 10, 20]], [0.9], [[1.0, 0.0]])\n"
              "t.update([[1, 0, 11, 20]], [0.9], [[1.0, 0.0]])\n"
              "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'trackeval', 'cv2'))\n"
              "assert not loaded, loaded[:5]\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
