"""The fuse pipeline: every pass together to a fixed point, equal outputs, a pure fuse()."""
import pytest
import torch

from tests.helpers import shared_path
from tests.compiler.passes.support import assert_same_outputs, randomized


@pytest.mark.parametrize("cfg, img", [(("conformance", "all_layers.cfg"), None),
                                      (("reference-cfg", "yolor", "yolor_p6.cfg"), 256),
                                      (("reference-cfg", "yolor", "yolor_csp.cfg"), 256),
                                      (("reference-cfg", "darknet", "yolov4-tiny.cfg"), 256)])
def test_fused_model_matches_unfused(cfg, img):
    model = randomized(shared_path(*cfg), img)
    if cfg[-1] == "all_layers.cfg":
        from yolor_cfg.compiler.io import load_state_dict

        load_state_dict(model, torch.load(shared_path("conformance", "all_layers.pt"), weights_only=True)["state_dict"])
    fused = model.fuse()
    size = img or 128
    assert_same_outputs(model, fused, torch.rand(2, 3, size, size))
    has_implicit = any(n.spec.implicit_source for n in model.graph.nodes)
    assert len(fused.graph.nodes) < len(model.graph.nodes) or not has_implicit
    assert not any(k.endswith("BatchNorm2d.weight") or k.endswith("implicit") for k in fused.state_dict())
    assert fused.fuse_report.summary().startswith("fold_bn: ")


def test_yolor_p6_fusion_report():
    fused = randomized(shared_path("reference-cfg", "yolor", "yolor_p6.cfg"), 256).fuse()
    # 141 convolutions with BN + 4 head convolutions; 4 adds and 4 multiplies; 8 implicit vectors
    assert fused.fuse_report.summary() == "fold_bn: 141 folded · fold_implicit: 8 folded · dce: 8 removed"
    assert sum(n.kind == "convolutional" for n in fused.graph.nodes) == 145


def test_fuse_is_pure_and_returns_new_model():
    model = randomized(shared_path("conformance", "all_layers.cfg"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    n_nodes = len(model.graph.nodes)
    fused = model.fuse()
    assert fused is not model and len(model.graph.nodes) == n_nodes
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert type(fused).forward is type(model).forward
