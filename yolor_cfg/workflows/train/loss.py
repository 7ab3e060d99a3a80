"""YOLOR's (scaled-YOLOv4's) detection loss, exactly as the reference computes it.

Targets are matched to anchors by width/height ratio (``anchor_t``) and also assigned to the
neighbouring cells their centre is close to; boxes use the CIoU loss, objectness a BCE against
the (detached) IoU scaled by ``gr``, classes a BCE; levels are weighted by ``balance``."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# YOLOR's loss raises the objectness gain by 1.4 for networks with 4 or more output levels (its P6
# models), to balance the extra, coarser levels.
OBJ_GAIN_P6 = 1.4
_NEIGHBOURS = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])


def bbox_ciou(box1: torch.Tensor, box2: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """CIoU of matching rows of two (n, 4) tensors of centre x, centre y, width, height."""
    b1_x1, b1_x2 = box1[:, 0] - box1[:, 2] / 2, box1[:, 0] + box1[:, 2] / 2
    b1_y1, b1_y2 = box1[:, 1] - box1[:, 3] / 2, box1[:, 1] + box1[:, 3] / 2
    b2_x1, b2_x2 = box2[:, 0] - box2[:, 2] / 2, box2[:, 0] + box2[:, 2] / 2
    b2_y1, b2_y2 = box2[:, 1] - box2[:, 3] / 2, box2[:, 1] + box2[:, 3] / 2
    inter = (torch.min(b1_x2, b2_x2) - torch.max(b1_x1, b2_x1)).clamp(0) * \
            (torch.min(b1_y2, b2_y2) - torch.max(b1_y1, b2_y1)).clamp(0)
    w1, h1 = b1_x2 - b1_x1, b1_y2 - b1_y1 + eps
    w2, h2 = b2_x2 - b2_x1, b2_y2 - b2_y1 + eps
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = torch.max(b1_x2, b2_x2) - torch.min(b1_x1, b2_x1)
    ch = torch.max(b1_y2, b2_y2) - torch.min(b1_y1, b2_y1)
    c2 = cw ** 2 + ch ** 2 + eps
    rho2 = ((b2_x1 + b2_x2 - b1_x1 - b1_x2) ** 2 + (b2_y1 + b2_y2 - b1_y1 - b1_y2) ** 2) / 4
    v = (4 / math.pi ** 2) * torch.pow(torch.atan(w2 / h2) - torch.atan(w1 / h1), 2)
    with torch.no_grad():
        alpha = v / ((1 + eps) - iou + v)
    return iou - (rho2 / c2 + v * alpha)


def level_balance(n_levels: int) -> list[float]:
    if n_levels == 5:
        return [4.0, 1.0, 0.5, 0.4, 0.1]
    return [4.0, 1.0, 0.4] if n_levels == 3 else [4.0, 1.0, 0.4, 0.1]


class YoloLoss:
    """``YoloLoss(model, hyp)(raw_outputs, targets) -> (loss, items)``.

    raw_outputs: one tensor per head, batch x anchors x H x W x (5 + nc); targets: rows of
    (image index, class, x, y, w, h) normalised to 0-1. ``loss`` is already multiplied by the
    batch size; ``items`` = (lbox, lobj, lcls, total), detached.

    Training-only heads (yolov7's auxiliary heads, ``[yolo] aux=1``) get the same loss on their own,
    added with weight AUX_WEIGHT as yolov7 weighs them; their targets are assigned like the lead
    heads' (YOLOR's ratio matching), not by yolov7's OTA assigner."""

    AUX_WEIGHT = 0.25

    def __init__(self, model, hyp: dict, gr: float = 1.0):
        heads = model.head_specs
        self.train_only = [h.train_only for h in heads]
        vecs = [torch.tensor(h.anchors, dtype=torch.float32) / torch.tensor([h.stride[1], h.stride[0]]) for h in heads]
        self.lead_vecs = [v for v, t in zip(vecs, self.train_only) if not t]
        self.aux_vecs = [v for v, t in zip(vecs, self.train_only) if t]
        self.nc = heads[0].classes
        self.hyp = hyp
        self.gr = gr

    def build_targets(self, raw, targets, anchor_vecs):
        tcls, tbox, indices, anch = [], [], [], []
        nt = targets.shape[0]
        gain = torch.ones(6, device=targets.device)
        off = _NEIGHBOURS.to(targets.device)
        g = 0.5
        for i, anchors in enumerate(anchor_vecs):
            anchors = anchors.to(targets.device, targets.dtype)
            gain[2:] = torch.tensor(raw[i].shape, device=targets.device)[[3, 2, 3, 2]].to(gain.dtype)
            a, t, offsets = targets.new_zeros(0, dtype=torch.long), targets * gain, 0
            if nt:
                na = anchors.shape[0]
                at = torch.arange(na, device=targets.device).view(na, 1).repeat(1, nt)
                r = t[None, :, 4:6] / anchors[:, None]
                j = torch.max(r, 1.0 / r).max(2)[0] < self.hyp["anchor_t"]
                a, t = at[j], t.repeat(na, 1, 1)[j]
                gxy = t[:, 2:4]
                z = torch.zeros_like(gxy)
                j, k = ((gxy % 1.0 < g) & (gxy > 1.0)).T
                l, m = ((gxy % 1.0 > (1 - g)) & (gxy < (gain[[2, 3]] - 1.0))).T
                a, t = torch.cat((a, a[j], a[k], a[l], a[m]), 0), torch.cat((t, t[j], t[k], t[l], t[m]), 0)
                offsets = torch.cat((z, z[j] + off[0], z[k] + off[1], z[l] + off[2], z[m] + off[3]), 0) * g
            b, c = t[:, :2].long().T
            gxy, gwh = t[:, 2:4], t[:, 4:6]
            gij = (gxy - offsets).long()
            gi, gj = gij.T
            indices.append((b, a, gj.clamp(0, int(gain[3]) - 1), gi.clamp(0, int(gain[2]) - 1)))
            tbox.append(torch.cat((gxy - gij, gwh), 1))
            anch.append(anchors[a])
            tcls.append(c)
        return tcls, tbox, indices, anch

    def __call__(self, raw: list[torch.Tensor], targets: torch.Tensor):
        lead = [r for r, t in zip(raw, self.train_only) if not t]
        lbox, lobj, lcls = self._heads_loss(lead, targets, self.lead_vecs)
        if self.aux_vecs:
            aux = self._heads_loss([r for r, t in zip(raw, self.train_only) if t], targets, self.aux_vecs)
            lbox, lobj, lcls = (a + self.AUX_WEIGHT * b for a, b in zip((lbox, lobj, lcls), aux))
        bs = raw[0].shape[0]
        loss = lbox + lobj + lcls
        return loss * bs, torch.cat((lbox, lobj, lcls, loss)).detach()

    def _heads_loss(self, raw: list[torch.Tensor], targets: torch.Tensor, anchor_vecs):
        """(lbox, lobj, lcls) of one set of heads, with YOLOR's gains."""
        device = targets.device
        h = self.hyp
        balance = level_balance(len(raw))
        lcls, lbox, lobj = (torch.zeros(1, device=device) for _ in range(3))
        tcls, tbox, indices, anchors = self.build_targets(raw, targets, anchor_vecs)
        bce_cls = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([h["cls_pw"]], device=device))
        bce_obj = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([h["obj_pw"]], device=device))
        if h.get("fl_gamma", 0) > 0:
            bce_cls, bce_obj = FocalLoss(bce_cls, h["fl_gamma"]), FocalLoss(bce_obj, h["fl_gamma"])
        for i, pi in enumerate(raw):
            b, a, gj, gi = indices[i]
            tobj = torch.zeros_like(pi[..., 0])
            n = b.shape[0]
            if n:
                ps = pi[b, a, gj, gi]
                pxy = ps[:, :2].sigmoid() * 2.0 - 0.5
                pwh = (ps[:, 2:4].sigmoid() * 2) ** 2 * anchors[i]
                iou = bbox_ciou(torch.cat((pxy, pwh), 1), tbox[i])
                lbox = lbox + (1.0 - iou).mean()
                tobj[b, a, gj, gi] = (1.0 - self.gr) + self.gr * iou.detach().clamp(0).type(tobj.dtype)
                if self.nc > 1:
                    t = torch.zeros_like(ps[:, 5:])
                    t[range(n), tcls[i]] = 1.0
                    lcls = lcls + bce_cls(ps[:, 5:], t)
            lobj = lobj + bce_obj(pi[..., 4], tobj) * balance[i]
        s = 3 / len(raw)
        obj_gain = OBJ_GAIN_P6 if len(raw) >= 4 else 1.0
        return lbox * h["box"] * s, lobj * h["obj"] * s * obj_gain, lcls * h["cls"] * s


class FocalLoss(nn.Module):
    """Focal loss around a BCEWithLogitsLoss (alpha 0.25), as YOLOR's ``fl_gamma`` > 0 selects."""

    def __init__(self, loss_fcn: nn.BCEWithLogitsLoss, gamma: float = 1.5, alpha: float = 0.25):
        super().__init__()
        self.loss_fcn, self.gamma, self.alpha = loss_fcn, gamma, alpha
        self.loss_fcn.reduction = "none"

    def forward(self, pred, true):
        loss = self.loss_fcn(pred, true)
        prob = torch.sigmoid(pred)
        p_t = true * prob + (1 - true) * (1 - prob)
        loss = loss * (true * self.alpha + (1 - true) * (1 - self.alpha)) * (1.0 - p_t) ** self.gamma
        return loss.mean()


def image_labels(targets: torch.Tensor, batch: int, nc: int) -> torch.Tensor:
    """Image-level multi-label targets (batch x nc) from box rows (image, class, x, y, w, h)."""
    y = torch.zeros(batch, nc, device=targets.device)
    if len(targets):
        y[targets[:, 0].long(), targets[:, 1].long()] = 1.0
    return y


class MultiLabelLoss:
    """BCE of a [multilabel] head's logits against labels derived from the boxes, times ``mlc``
    (hyp) and the batch size, like the detection loss."""

    def __init__(self, hyp: dict):
        self.gain = hyp["mlc"]
        self.bce = nn.BCEWithLogitsLoss()

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        y = image_labels(targets, logits.shape[0], logits.shape[1])
        return self.bce(logits.float(), y) * self.gain * logits.shape[0]


class EmbeddingLoss(nn.Module):
    """JDE's and FairMOT's identity loss for an [embedding] layer: each labelled object's embedding, read
    at its centre cell of the embedding map, is classified over the training identities by a linear
    classifier after a learned scale (JDE's s = sqrt(2) log(n - 1) to start: unit vectors need it for
    the softmax to become confident); cross-entropy, times ``emb`` (hyp) and the batch size like the
    detection loss. Rows whose identity is -1 (unknown) are left out.

    A hyp gain, not JDE's learned uncertainty weights: those would also reweight YOLOR's detection loss,
    whose gains are tuned (and checked against the reference code); one gain on the new task keeps the
    detector's loss YOLOR's. The classifier exists only while training: it is saved in training
    checkpoints (to resume) but is no part of the model, its inference graph or any export."""

    def __init__(self, dim: int, num_ids: int, gain: float):
        super().__init__()
        self.classifier = nn.Linear(dim, num_ids)
        self.scale = nn.Parameter(torch.tensor(math.sqrt(2) * math.log(max(num_ids - 1, 2))))
        self.gain = gain

    def forward(self, embeddings: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``embeddings``: batch x dim x H x W (L2-normalised); ``targets``: rows (image, class, x, y, w, h,
        identity), boxes normalised."""
        batch, _, h, w = embeddings.shape
        known = targets[targets[:, 6] >= 0] if targets.shape[1] > 6 else targets[:0]
        if not len(known):
            return embeddings.sum() * 0.0  # keeps the graph (DDP needs every parameter used)
        gi = (known[:, 2] * w).long().clamp(0, w - 1)
        gj = (known[:, 3] * h).long().clamp(0, h - 1)
        vectors = embeddings[known[:, 0].long(), :, gj, gi].float()
        logits = self.classifier(self.scale * vectors)
        return F.cross_entropy(logits, known[:, 6].long()) * self.gain * batch
