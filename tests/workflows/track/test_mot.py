"""MOTChallenge files: results written and read back, ground truth read, malformed rows refused with
their file and line."""
from pathlib import Path

import numpy as np
import pytest

from yolor_cfg.core.checks import UsageError
from yolor_cfg.workflows.train.data import DataError
from yolor_cfg.workflows.track.mot import from_tracker, read_gt, read_results, write_results

OUTPUTS = [  # Tracker.update's outputs for three frames
    [(2, np.array([110.0, 20.0, 150.5, 120.25]), 0.8), (1, np.array([10.0, 20.0, 50.0, 120.0]), 0.91234)],
    [],
    [(1, np.array([12.0, 20.0, 52.0, 121.0]), 0.9)],
]


def test_results_round_trip(tmp_path):
    path = tmp_path / "seq.txt"
    table = from_tracker(OUTPUTS)
    write_results(path, table)
    assert path.read_text().splitlines() == [
        "1,1,10.00,20.00,40.00,100.00,0.9123,-1,-1,-1",
        "1,2,110.00,20.00,40.50,100.25,0.8000,-1,-1,-1",
        "3,1,12.00,20.00,40.00,101.00,0.9000,-1,-1,-1",
    ]
    back = read_results(path)
    order = np.lexsort((table.ids, table.frames))
    assert list(back.frames) == [1, 1, 3] and list(back.ids) == [1, 2, 1]
    assert back.boxes == pytest.approx(table.boxes[order])
    assert back.scores == pytest.approx(table.scores[order], abs=1e-4)
    assert [p.name for p in tmp_path.iterdir()] == ["seq.txt"]  # no temporary left beside it


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def half_then_fail(self, text):
        open(self, "w").write(text[:10])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_results(tmp_path / "seq.txt", from_tracker(OUTPUTS))
    assert list(tmp_path.iterdir()) == []


def test_empty_results(tmp_path):
    write_results(tmp_path / "none.txt", from_tracker([[], []]))
    assert (tmp_path / "none.txt").read_text() == ""
    assert len(read_results(tmp_path / "none.txt")) == 0


def test_read_gt_leaves_out_flag_0_and_other_classes(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("1,1,10,20,30,40,1,1,1.0\n"
                    "1,2,50,20,30,40,0,1,0.5\n"  # flag 0: not evaluated
                    "\n"
                    "2, 1, 12, 20, 30, 40, 1, 1, 0.8\n"
                    "2,3,90,20,30,40,1,7,1.0\n")  # class 7 (MOT17: static person)
    gt = read_gt(path)
    assert list(gt.frames) == [1, 2, 2] and list(gt.ids) == [1, 1, 3]
    assert gt.boxes[1] == pytest.approx([12, 20, 30, 40]) and list(gt.scores) == [1, 1, 1]
    assert list(read_gt(path, classes={1}).ids) == [1, 1]
    ids, boxes = gt.at(2)
    assert list(ids) == [1, 3] and boxes.shape == (2, 4)


def test_malformed_rows_are_errors_with_file_and_line(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("1,1,10,20,30,40,1,1,1\n"
                    "1,2,10,20,30,40,1\n"  # 7 columns
                    "x,2,10,20,30,40,1,1,1\n"
                    "0,2,10,20,30,40,1,1,1\n"  # frame 0
                    "1,2.5,10,20,30,40,1,1,1\n"
                    "1,3,10,20,-30,40,1,1,1\n"
                    "1,4,10,20,30,nan,1,1,1\n"
                    "1,5,10,20,30,40,1,pedestrian,1\n"
                    "1,6,10,20,30,40,0.5,1,1\n"
                    "1,1,11,20,30,40,0,1,1\n")  # id 1 again in frame 1 (flag 0 or not)
    with pytest.raises(DataError) as err:
        read_gt(path)
    lines = str(err.value).splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [f"{path}:{n}" for n in range(2, 11)]
    assert "7 columns; a row is frame,id,left,top,width,height,flag,class,visibility" in lines[0]
    assert "not a number: 'x'" in lines[1]
    assert "frame 0: frames are whole numbers from 1" in lines[2]
    assert "id 2.5: ids are whole numbers from 0" in lines[3]
    assert "a box's size cannot be negative" in lines[4]
    assert "not finite" in lines[5]
    assert "not a number: 'pedestrian'" in lines[6]
    assert "flag 0.5, class 1: both are whole numbers" in lines[7]
    assert "id 1 is in frame 1 twice (also line 1)" in lines[8]


def test_only_the_first_errors_are_listed(tmp_path):
    path = tmp_path / "res.txt"
    path.write_text("1,1,10,20,30\n" * 25)
    with pytest.raises(DataError, match=r"res.txt:10: 5 columns(.|\n)*\.\.\. and 15 more$"):
        read_results(path)


def test_a_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="MOTChallenge file"):
        read_results(tmp_path / "missing.txt")
