"""[embedding]: per-location appearance vectors, one per detection at inference, iJDE folded exactly,
the identity loss reaching the branch, and exports carrying the embeddings."""
import numpy as np
import onnx
import pytest
import torch

import yolor_cfg
from yolor_cfg.workflows.train.loss import EmbeddingLoss

from tests.compiler.passes.support import randomized
from tests.helpers import ZOO


@pytest.fixture(scope="module")
def ijde():
    model = randomized(str(ZOO / "yolor_tiny_ijde.cfg"), img=128)
    with torch.no_grad():  # implicit knowledge away from its initial values, so folding shows
        head = model.module_list[-1]
        head.ia.normal_(0, 0.5)
        head.im.uniform_(0.5, 1.5)
    return model


def test_eval_gives_one_unit_vector_per_detection_row(ijde):
    dets, raw, extras = ijde(torch.rand(2, 3, 128, 128))
    emb = extras["embeddings"]
    assert emb.shape == (2, dets.shape[1], 64)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(2, dets.shape[1]))


def test_a_detection_reads_the_map_under_its_cell(ijde):
    """The map is at stride 8 like the first head: row (anchor a, cell y, x) of head 0 reads location (y, x);
    the second head (stride 16) reads the centre of its cell's 2 x 2 block, (2y + 1, 2x + 1)."""
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        layers = ijde.trace(x)
        _, raw, extras = ijde(x)
    emb_map = layers[len(layers) - 1]  # the [embedding] layer's output: 1 x 64 x 16 x 16
    na, ny, nx = raw[0].shape[1:4]
    a, y, xx = 2, 5, 11
    row = a * ny * nx + y * nx + xx
    torch.testing.assert_close(extras["embeddings"][0, row], emb_map[0, :, y, xx])
    row = na * ny * nx + 1 * (ny // 2) * (nx // 2) + 3 * (nx // 2) + 4  # head 1, anchor 1, cell (3, 4)
    torch.testing.assert_close(extras["embeddings"][0, row], emb_map[0, :, 7, 9])


def test_ijde_folds_exactly(ijde):
    fused = ijde.fuse()
    assert "its own implicit knowledge folded" in fused.fuse_report.details()
    head = fused.module_list[-1]
    assert head.ia is None and head.im is None
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        a, b = ijde(x), fused(x)
    torch.testing.assert_close(b[2]["embeddings"], a[2]["embeddings"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(b[0], a[0], atol=1e-3, rtol=1e-4)


def test_identity_loss_reaches_the_embedding_branch(ijde):
    model = ijde.train()
    raw, aux = model(torch.rand(2, 3, 128, 128))
    loss_fn = EmbeddingLoss(64, num_ids=5, gain=1.0)
    targets = torch.tensor([[0, 0, 0.3, 0.4, 0.1, 0.1, 3], [1, 0, 0.6, 0.5, 0.2, 0.2, 1],
                            [1, 0, 0.2, 0.2, 0.1, 0.1, -1]])  # the last: identity unknown, left out
    loss = loss_fn(aux["embeddings"], targets)
    loss.backward()
    head = model.module_list[-1]
    assert loss.item() > 0 and head.Conv2d.weight.grad.abs().sum() > 0 and head.ia.grad.abs().sum() > 0
    assert loss_fn.classifier.weight.grad.abs().sum() > 0 and loss_fn.scale.grad is not None
    assert loss_fn(aux["embeddings"], targets[2:]).item() == 0.0  # nothing known: nothing to learn
    assert loss_fn(aux["embeddings"], targets[:, :6]).item() == 0.0  # detection-only labels
    model.eval()


def test_the_classifier_is_not_part_of_the_model(ijde):
    assert not any("classifier" in k for k in ijde.state_dict())


def test_onnx_export_carries_the_embeddings(ijde, tmp_path):
    from yolor_cfg.deploy.formats import ExportOptions, export_onnx
    from yolor_cfg.deploy.runtimes import open_artifact

    report = export_onnx(ijde, tmp_path / "jde.onnx", ExportOptions(dynamic=True))
    assert max(e for _, e in report.parity) <= 1e-4
    assert [o.name for o in onnx.load(str(tmp_path / "jde.onnx")).graph.output] == ["detections", "embeddings"]
    runtime = open_artifact(tmp_path / "jde.onnx")
    x = torch.rand(3, 3, 128, 128)
    with torch.no_grad():
        ref = ijde(x)[2]["embeddings"]
    got = runtime(x).embeddings
    assert got.shape == ref.shape and float((got - ref).abs().max()) <= 1e-5
    assert np.isclose(float(got.norm(dim=-1).mean()), 1.0, atol=1e-5)


def test_nms_export_of_a_tracking_model_is_refused(ijde, tmp_path):
    from yolor_cfg.deploy.formats import ExportError, ExportOptions, export_onnx

    with pytest.raises(ExportError, match="without --nms"):
        export_onnx(ijde, tmp_path / "x.onnx", ExportOptions(nms=True))
    assert not (tmp_path / "x.onnx").exists()
