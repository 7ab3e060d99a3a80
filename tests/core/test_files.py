"""Files and folders (core/files.py): run folders claimed once each, whoever asks at the same time."""
import threading

from yolor_cfg.core.files import claim_run_dir


def test_run_folders_are_claimed_atomically(tmp_path):
    claimed, barrier = [], threading.Barrier(8)

    def claim():
        barrier.wait()
        claimed.append(claim_run_dir(tmp_path, "exp"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(claimed)) == 8 and sorted(p.name for p in claimed) == ["exp"] + [f"exp{i}" for i in range(2, 9)]
