"""[multilabel]: an image-level multi-label classification head (the paper's joint detection and
classification, JDC), optionally with implicit knowledge on its branch (iJDC)."""
from __future__ import annotations

from ..options import Choice, Float, Int
from .base import LayerKind, NodeError, Shape, register


@register
class MultiLabel(LayerKind):
    example = "[convolutional]\nfilters=21\nsize=1\nactivation=linear\n[yolo]\nmask=0,1,2\nanchors=10,13,16,30,33,23\nclasses=2\nnum=3\n[multilabel]\nfrom=0\nclasses=2\nimplicit=both\n"
    name = "multilabel"
    aux_output = "multilabel"
    aux_inference = "class_scores"
    summary = "image-level multi-label classifier on a feature layer (joint detection and classification)"
    options = {"from": Int(-1, doc="the feature layer (default: the previous one)"),
               "classes": Int(required=True, min=1),
               "implicit": Choice("none", choices=("none", "add", "mul", "both")),
               "std": Float(0.02, min=0)}

    def inference_aux(self, value, raw):
        import torch

        return self.aux_inference, torch.sigmoid(value)

    def dialect_evidence(self, node):
        return []  # a yolor-cfg extension: it says nothing about either dialect

    def sequential(self, node):
        return False

    def input_refs(self, node):
        return [(node.options["from"], "from")]

    def infer(self, node, in_shapes, ctx):
        if in_shapes[0].h < 1:
            raise NodeError("needs a feature map as input", "from")
        return Shape(node.options["classes"], 1, 1, ctx.net_height)

    def build(self, node, ctx):
        from ..modules.multilabel import MultiLabelHead

        o = node.options
        return MultiLabelHead(node.in_shapes[0].c, o["classes"], o["implicit"], o["std"])

    def num_params(self, node):
        o, c = node.options, node.in_shapes[0].c
        return c * o["classes"] + o["classes"] + (c if o["implicit"] in ("add", "both") else 0) + \
            (o["classes"] if o["implicit"] in ("mul", "both") else 0)

    def macs(self, node):
        return node.in_shapes[0].c * node.options["classes"]

    def darknet_layout(self, node):
        o, c = node.options, node.in_shapes[0].c
        layout = [("Linear.bias", (o["classes"],)), ("Linear.weight", (o["classes"], c))]
        if o["implicit"] in ("add", "both"):
            layout.append(("ia", (c,)))
        if o["implicit"] in ("mul", "both"):
            layout.append(("im", (o["classes"],)))
        return layout

    def fold_own_implicit(self, node, params):
        """(W (v + a) + b) * m = (m W) v + m (W a + b): the iJDC head becomes a plain linear classifier."""
        o = node.options
        if o["implicit"] == "none":
            return None
        w, b = params["Linear.weight"], params["Linear.bias"]
        if "ia" in params:
            b = b + w @ params["ia"]
        if "im" in params:
            w, b = w * params["im"].view(-1, 1), b * params["im"]
        return {**o, "implicit": "none"}, {"Linear.weight": w, "Linear.bias": b}
