"""Pass-through and classifier-tail layers: [silence]/[empty], [dropout], [cost], [softmax]."""
from __future__ import annotations

from ..options import Choice, Float, Inert, Int, Refused
from .base import LayerKind, register


@register
class Silence(LayerKind):
    example = "[silence]\n"
    name = "silence"
    aliases = ("empty",)
    summary = "passes the previous layer through"
    inference_identity = True
    passes_channels = True


@register
class DropoutKind(LayerKind):
    example = "[dropout]\nprobability=0.3\n"
    name = "dropout"
    summary = "dropout while training, identity at inference"
    inference_identity = True
    passes_channels = True
    options = {"probability": Float(0.2, min=0), "dropblock": Refused(0, reason="DropBlock is not supported"),
               "dropblock_size_rel": Inert(), "dropblock_size_abs": Inert()}

    def build(self, node, ctx):
        from ..modules.misc import Dropout

        return Dropout(node.options["probability"])


@register
class Cost(LayerKind):
    example = "[avgpool]\n[cost]\n"
    yolor_builds = False
    name = "cost"
    summary = "training cost of a classifier; identity at inference"
    inference_identity = True
    options = {"type": Choice("sse", choices=("sse", "masked", "smooth", "L1", "seg", "wgan")),
               "scale": Inert(), "ratio": Inert(), "noobject_scale": Inert(), "thresh": Inert()}


@register
class SoftmaxKind(LayerKind):
    example = "[avgpool]\n[softmax]\n"
    yolor_builds = False
    name = "softmax"
    aliases = ("soft",)
    summary = "softmax over the flattened input (per group)"
    options = {"groups": Int(1, min=1), "temperature": Float(1.0), "noloss": Inert(),
               "spatial": Refused(0, reason="spatial softmax is not supported"),
               "tree": Refused("", reason="hierarchical softmax trees are not supported")}

    def build(self, node, ctx):
        from ..modules.misc import Softmax

        return Softmax(node.options["groups"], node.options["temperature"])
