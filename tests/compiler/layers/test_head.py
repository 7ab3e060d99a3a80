"""The [yolo] head (layers/head.py): its option checks at the right positions, strides from shapes."""
from yolor_cfg.compiler.graph import load_graph

from tests.helpers import errors_of, shared_path


def test_yolo_mask_outside_anchors(write_cfg):
    [(line, col, msg)] = errors_of(write_cfg, "[convolutional]\nfilters=21\n[yolo]\nmask=0,1,7\n"
                                              "anchors=1,2,3,4,5,6\nclasses=2\nnum=3\n")
    assert (line, col) == (8, 6) and "mask index 7 is outside the anchors" in msg


def test_yolo_odd_anchor_list(write_cfg):
    [(_, _, msg)] = errors_of(write_cfg, "[convolutional]\nfilters=21\n[yolo]\nmask=0,1,2\n"
                                         "anchors=1,2,3,4,5,6,7\nclasses=2\nnum=3\n")
    assert "even count" in msg


def test_yolo_filters_must_fit_classes(write_cfg):
    [(line, _, msg), (conv_line, conv_col, conv_msg)] = errors_of(
        write_cfg, "[convolutional]\nfilters=20\n[yolo]\nmask=0,1,2\nanchors=1,2,3,4,5,6\nclasses=2\nnum=3\n")
    assert line == 7 and "needs 21 = 3 anchors x (classes 2 + 5); set filters=21" in msg
    assert (conv_line, conv_col) == (6, 9) and "filters=20 does not fit the head at line 7" in conv_msg


def test_yolo_strides_come_from_shapes():
    g = load_graph(shared_path("reference-cfg", "darknet", "yolov3-tiny.cfg"))
    assert [n.in_shapes[0].stride for n in g.heads] == [32, 16]
    g = load_graph(shared_path("reference-cfg", "yolor", "yolor_p6.cfg"), img_size=640)
    assert [n.in_shapes[0].stride for n in g.heads] == [8, 16, 32, 64]
