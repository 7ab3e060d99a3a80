"""[embedding]: an appearance embedding per location of one feature map (the paper's joint detection
and embedding, JDE), L2-normalised, optionally with implicit knowledge on its branch (iJDE). Each
detection reads the embedding at its grid cell, so a detector with this layer is a multi-object tracker.

One shared map, not one per head: FairMOT found a single high-resolution map better than JDE's
per-scale embeddings (an object's identity should not depend on which scale detected it, and one
classifier sees every positive); here the map is any layer the cfg names (``from=``), usually the
highest-resolution feature the heads use, with a 3x3 [convolutional] before it for context."""
from __future__ import annotations

from ..options import Choice, Float, Int
from .base import LayerKind, NodeError, Shape, register


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
        o, c = node.options, node.in_shapes[0].c
        return c * o["dim"] + o["dim"] + (c if o["implicit"] in ("add", "both") else 0) + \
            (o["dim"] if o["implicit"] in ("mul", "both") else 0)

    def macs(self, node):
        return node.in_shapes[0].c * node.options["dim"] * node.shape.h * node.shape.w

    def darknet_layout(self, node):
        o, c = node.options, node.in_shapes[0].c
        layout = [("Conv2d.bias", (o["dim"],)), ("Conv2d.weight", (o["dim"], c, 1, 1))]
        if o["implicit"] in ("add", "both"):
            layout.append(("ia", (c,)))
        if o["implicit"] in ("mul", "both"):
            layout.append(("im", (o["dim"],)))
        return layout

    def fold_own_implicit(self, node, params):
        """W (x + a) + b = W x + (W a + b), exact for the 1x1 projection; (W x + b) * m = (m W) x + m b."""
        o = node.options
        if o["implicit"] == "none":
            return None
        w, b = params["Conv2d.weight"], params["Conv2d.bias"]
        if "ia" in params:
            b = b + w[:, :, 0, 0] @ params["ia"]
        if "im" in params:
            w, b = w * params["im"].view(-1, 1, 1, 1), b * params["im"]
        return {**o, "implicit": "none"}, {"Conv2d.weight": w, "Conv2d.bias": b}
