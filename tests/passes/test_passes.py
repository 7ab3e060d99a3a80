"""Every pass: numerically equal before/after, and a case where it must not fire."""
import pytest
import torch

import yolor_cfg
from yolor_cfg.passes import WeightedGraph, dce, fold_bn, fold_implicit

from ..helpers import HEADER, shared_path


def randomized(cfg, img=None, seed=0):
    model = yolor_cfg.compile(cfg, img_size=img)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif name.endswith("num_batches_tracked"):
                continue
            elif name.endswith(("running_mean", "bias")):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
            elif name.endswith("implicit"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.2 + (1.0 if t.mean() > 0.5 else 0.0))
            elif name.endswith("BatchNorm2d.weight"):
                t.copy_(torch.rand(t.shape, generator=gen) * 0.5 + 0.75)
    return model.eval()


def assert_same_outputs(a, b, x, box_tol=1e-4, score_tol=1e-5):
    with torch.no_grad():
        ya, yb = a(x), b(x)
    if isinstance(ya, tuple):
        da, db = ya[0], yb[0]
        size = da[..., 2:4].abs().amax(-1, keepdim=True).clamp(min=1.0)
        assert float(((da[..., :4] - db[..., :4]).abs() / size).max()) <= box_tol
        assert float((da[..., 4:] - db[..., 4:]).abs().max()) <= score_tol
    else:
        assert float((ya - yb).abs().max()) <= score_tol


def run_pass(model, fn):
    result = fn(WeightedGraph.from_model(model))
    rebuilt = yolor_cfg.backends.torch_exec.CompiledModel(result.wg.graph)
    rebuilt.load_state_dict(result.wg.state_dict())
    return rebuilt.eval(), result


@pytest.mark.parametrize("cfg, img", [(("conformance", "all_layers.cfg"), None),
                                      (("reference-cfg", "yolor", "yolor_p6.cfg"), 256),
                                      (("reference-cfg", "yolor", "yolor_csp.cfg"), 256),
                                      (("reference-cfg", "darknet", "yolov4-tiny.cfg"), 256)])
def test_fused_model_matches_unfused(cfg, img):
    model = randomized(shared_path(*cfg), img)
    if cfg[-1] == "all_layers.cfg":
        from yolor_cfg.io import load_state_dict

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


def test_fold_bn_standalone_batchnorm(write_cfg):
    body = ("[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=linear\n[batchnorm]\n[activation]\nactivation=leaky\n"
            "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=leaky\n[batchnorm]\n")
    model = randomized(write_cfg(HEADER + body))
    fused, result = run_pass(model, fold_bn)
    assert [n.kind for n in fused.graph.nodes] == ["convolutional", "activation", "convolutional", "batchnorm"]
    assert result.declined == [(4, "a leaky activation lies between it and the convolution before")]
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))


IMPLICIT_BODY = """[convolutional]
batch_normalize=1
filters=8
size=3
pad=1
activation=silu
[implicit_add]
filters=8
[implicit_mul]
filters=8
[route]
layers=0
[shift_channels]
from=1
[convolutional]
filters=6
size={size}
pad=1
activation=linear
[avgpool]
"""


def test_fold_implicit_add_declines_before_padded_conv(write_cfg):
    model = randomized(write_cfg(HEADER + IMPLICIT_BODY.format(size=3)))
    fused, result = run_pass(model, fold_implicit)
    assert not result.changed
    [(layer, why)] = result.declined
    assert layer == 4 and "pads with zeros" in why and "layer 3 before it is a [route]" in why
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))


def test_fold_implicit_add_into_following_1x1(write_cfg):
    model = randomized(write_cfg(HEADER + IMPLICIT_BODY.format(size=1)))
    fused, result = run_pass(model, fold_implicit)
    assert result.rewrites == ["layer 4 [shift_channels] (line 17): implicit add of layer 1 folded into layer 5 after it"]
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))


def test_fold_implicit_mul_into_following_padded_conv_is_exact(write_cfg):
    body = IMPLICIT_BODY.format(size=3).replace("[shift_channels]\nfrom=1", "[control_channels]\nfrom=2")
    model = randomized(write_cfg(HEADER + body))
    fused, result = run_pass(model, fold_implicit)
    assert len(result.rewrites) == 1 and "into layer 5 after it" in result.rewrites[0]
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))


def test_fold_implicit_into_preceding_linear_conv(write_cfg):
    body = ("[implicit_add]\nfilters=8\n[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=linear\n"
            "[shift_channels]\nfrom=0\n[avgpool]\n")
    model = randomized(write_cfg(HEADER + body))
    fused, result = run_pass(model, fold_implicit)  # eq. 10: into the bias of the conv before, padding or not
    assert result.rewrites == ["layer 2 [shift_channels] (line 12): implicit add of layer 0 folded into layer 1 before it"]
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))
    # the must-not-fire twin: the conv's output is also read by a route, and a route follows
    body = body.replace("[avgpool]\n", "[route]\nlayers=-1,1\n[convolutional]\nfilters=4\nsize=1\nactivation=linear\n")
    model = randomized(write_cfg(HEADER + body, "twin.cfg"))
    fused, result = run_pass(model, fold_implicit)
    assert not result.changed
    assert result.declined == [(2, "layer 1's output is also read elsewhere; layer 3 after it is a [route] (not a convolution)")]


def test_dce_removes_identities_and_unread_layers_only(write_cfg):
    body = ("[convolutional]\nfilters=8\nsize=1\nactivation=leaky\n[dropout]\nprobability=.5\n[silence]\n"
            "[implicit_add]\nfilters=4\n[route]\nlayers=2\n[convolutional]\nfilters=4\nsize=1\nactivation=linear\n[cost]\n")
    model = randomized(write_cfg(HEADER + "dialect=yolor\n" + body))  # YOLOR's sections and Darknet's [cost]
    fused, result = run_pass(model, dce)
    assert [n.kind for n in fused.graph.nodes] == ["convolutional", "route", "convolutional"]
    assert len(result.rewrites) == 4
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))
    again, second = run_pass(fused, dce)
    assert not second.changed


def test_fuse_is_pure_and_returns_new_model():
    model = randomized(shared_path("conformance", "all_layers.cfg"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    n_nodes = len(model.graph.nodes)
    fused = model.fuse()
    assert fused is not model and len(model.graph.nodes) == n_nodes
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert type(fused).forward is type(model).forward


def test_fold_implicit_declines_2d_maps(write_cfg):
    body = ("[convolutional]\nfilters=8\nsize=1\nactivation=linear\n[implicit_add_2d]\nfilters=64\natoms=64\n"
            "[route]\nlayers=0\n[shift_channels_2d]\nfrom=1\n[convolutional]\nfilters=4\nsize=1\nactivation=linear\n")
    model = randomized(write_cfg(HEADER + body))
    fused, result = run_pass(model, fold_implicit)
    assert not result.changed and result.declined[0][0] == 3 and "2-D implicit map" in result.declined[0][1]
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))

