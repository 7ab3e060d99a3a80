"""[embedding]: an appearance embedding per location of one feature map (the paper's joint detection
and embedding, JDE), L2-normalised, optionally with implicit knowledge on its branch (iJDE). Each
detection reads the embedding at its grid cell, so a detector with this layer is a multi-object tracker.

One shared map, not one per head: FairMOT found a single high-resolution map better than JDE's
per-scale embeddings (an object's identity should not depend on which scale detected it, and one
classifier sees every positive); here the map is any layer the cfg names (``from=``), usually the
highest-resolution feature the heads use, with a 3x3 [convolutional] before it for context."""
from __future__ import annotations

import math

from ..options import Choice, Float, Int
from .base import LayerKind, NodeError, Shape, register
from .implicit import branch_layout, fold_branch_implicit


@register
class Embedding(LayerKind):
    example = ("[convolutional]\nfilters=21\nsize=1\nactivation=linear\n[yolo]\nmask=0,1,2\nanchors=10,13,16,30,33,23\n"
               "classes=2\nnum=3\n[embedding]\nfrom=0\ndim=16\nimplicit=both\n")
    name = "embedding"
    aux_output = "embeddings"
    summary = "appearance embedding per location (joint detection and embedding: tracking), L2-normalised"
    options = {"from": Int(-1, doc="the feature layer (default: the previous one)"),
               "dim": Int(128, min=2, doc="the embedding's length"),
               "implicit": Choice("none", choices=("none", "add", "mul", "both"), doc="iJDE: implicit knowledge "
                                  "added to the features and/or multiplying the embedding before it is normalised"),
               "std": Float(0.02, min=0)}

    def inference_aux(self, value, raw):
        from ..modules.embedding import detection_embeddings

        return self.aux_output, detection_embeddings(value, raw)

    def dialect_evidence(self, node):
        return []  # a yolor-cfg extension: it says nothing about either dialect

    def sequential(self, node):
        return False

    def input_refs(self, node):
        return [(node.options["from"], "from")]

    def infer(self, node, in_shapes, ctx):
        s = in_shapes[0]
        if s.h < 1:
            raise NodeError("needs a feature map as input", "from")
        return Shape(node.options["dim"], s.h, s.w, s.stride)

    def draw_details(self, node):
        o = node.options
        return [f"{o['dim']}-d" + ("" if o["implicit"] == "none" else f" implicit {o['implicit']}")]

    def build(self, node, ctx):
        from ..modules.embedding import EmbeddingHead

        o = node.options
        return EmbeddingHead(node.in_shapes[0].c, o["dim"], o["implicit"], o["std"])

    def num_params(self, node):
        return sum(math.prod(shape) for _, shape in self.darknet_layout(node))

    def macs(self, node):
        return node.in_shapes[0].c * node.options["dim"] * node.shape.h * node.shape.w

    def darknet_layout(self, node):
        o, c = node.options, node.in_shapes[0].c
        return branch_layout("Conv2d", o["dim"], (o["dim"], c, 1, 1), c, o["implicit"])

    def fold_own_implicit(self, node, params):
        """Exact for the 1x1 projection: a constant added before it is a constant after it."""
        return fold_branch_implicit(node.options, params, "Conv2d")
