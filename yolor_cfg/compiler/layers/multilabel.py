"""[multilabel]: an image-level multi-label classification head (the paper's joint detection and
classification, JDC), optionally with implicit knowledge on its branch (iJDC)."""
from __future__ import annotations

import math

from ..options import Choice, Float, Int
from .base import LayerKind, NodeError, Shape, register
from .implicit import branch_layout, fold_branch_implicit


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
        return sum(math.prod(shape) for _, shape in self.darknet_layout(node))

    def macs(self, node):
        return node.in_shapes[0].c * node.options["classes"]

    def darknet_layout(self, node):
        o, c = node.options, node.in_shapes[0].c
        return branch_layout("Linear", o["classes"], (o["classes"], c), c, o["implicit"])

    def fold_own_implicit(self, node, params):
        """The iJDC head becomes a plain linear classifier."""
        return fold_branch_implicit(node.options, params, "Linear")
