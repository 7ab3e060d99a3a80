"""Helpers for the pass tests: randomised weights (so folds show), output comparison, one pass run."""
import torch

import yolor_cfg
from yolor_cfg.compiler.model import Model
from yolor_cfg.compiler.passes import WeightedGraph


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
    rebuilt = Model(result.wg.graph)
    rebuilt.load_state_dict(result.wg.state_dict())
    return rebuilt.eval(), result
