"""The layer-kind contract and its registry: one entry per cfg section type.

Every stage loops over the registry: the graph builder types options and infers shapes
with it, the PyTorch backend builds modules with it, the weight readers ask it for
tensor layouts, and the passes ask it for their hooks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..options import COMMON_KEYS, Opt

if TYPE_CHECKING:
    import torch.nn as nn

    from ...core.errors import SourceLoc


# A model's state-dict key: module_list.{layer index}.{attribute path} (YOLOR's naming, kept by ours).
STATE_KEY = re.compile(r"^module_list\.(\d+)\.(.+)$")


@dataclass(frozen=True)
class Shape:
    """Output of a layer for one image: channels, height, width; stride = input height / h."""

    c: int
    h: int
    w: int
    stride: float = 1

    @property
    def numel(self) -> int:
        return self.c * self.h * self.w

    def as_list(self) -> list[int]:
        return [self.c, self.h, self.w]


class NodeError(Exception):
    """Raised by a kind's hooks; ``key`` names the option the message is about; ``related`` adds
    diagnostics at other layers' options: (node, key, message)."""

    def __init__(self, message: str, key: str | None = None, related: list | None = None):
        super().__init__(message)
        self.message = message
        self.key = key
        self.related = related or []


@dataclass
class Node:
    """One layer of the IR."""

    index: int
    kind: str
    options: dict[str, Any]
    inputs: list[int]  # absolute layer indices; -1 is the network input
    loc: SourceLoc
    option_locs: dict[str, SourceLoc] = field(default_factory=dict)
    given: frozenset[str] = frozenset()  # keys written in the file
    derived: dict[str, Any] = field(default_factory=dict)  # values the kind computes from the options (validate)
    shape: Shape | None = None
    in_shapes: list[Shape] = field(default_factory=list)
    broken: bool = False  # an error was reported for this node
    dialect: str = ""  # the graph's dialect name, for hooks that run without a Context
    origin: int = -1  # the layer's index in the cfg (passes renumber ``index``, never this)

    @property
    def spec(self) -> LayerKind:
        return REGISTRY[self.kind]

    def describe(self) -> str:
        """``layer N [kind] (line L)``: how every message names a layer (N is its index in the cfg)."""
        return f"layer {self.origin if self.origin >= 0 else self.index} [{self.kind}] (line {self.loc.line})"

    def loc_of(self, key: str | None) -> SourceLoc:
        return self.option_locs.get(key, self.loc) if key else self.loc

    def __getitem__(self, key: str) -> Any:
        return self.options[key]


@dataclass
class Context:
    """What a kind's hooks may know besides the node: dialect, input size, other nodes."""

    dialect: Any  # yolor_cfg.compiler.dialects.Dialect
    net_height: int
    net_width: int
    net_channels: int
    nodes: list[Node]


@dataclass(frozen=True)
class AffineConv:
    """The ``affine_conv`` capability: the layer computes act(BN(W * x + b)), and its tensors are here.
    Passes fold constants into W and b through it without knowing the kind."""

    weight: str  # key of W, (out, in / groups, k, k)
    bias: str  # key of b (absent in the tensors when the layer has none: zero)
    batchnorm: str | None  # prefix of its own BatchNorm (weight, bias, running_mean, running_var), if any
    activation: str
    size: int
    padded: bool  # zero padding at the borders (a constant input is then not constant at its output)
    groups: int = 1


@dataclass(frozen=True)
class HeadSpec:
    """The head contract: what the loss, the executor, exports, draw and cfgtext know about a detection
    head. Its raw output is batch x anchors x H x W x (5 + classes): box (4), objectness, classes."""

    anchors: tuple[tuple[float, float], ...]  # (width, height) in input pixels, one per anchor
    stride: tuple[float, float]  # (sy, sx): input pixels per output cell
    classes: int
    train_only: bool = False  # in the loss, never at inference (yolov7's auxiliary heads); Graph.head_specs
    # fills it from the kind's inference_output

    @property
    def outputs(self) -> int:
        """Values per anchor and cell."""
        return self.classes + 5


class LayerKind:
    """Base of all kinds. Subclasses set ``name`` and ``options`` and override hooks. Everything other
    code needs to know about a kind is declared here (no module outside ``layers/`` tests a kind name)."""

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[dict[str, Opt]] = {}
    yolor_only: ClassVar[bool] = False  # its presence selects the yolor dialect
    yolor_builds: ClassVar[bool] = True  # YOLOR's code builds it (False: its presence means darknet)
    extension_keys: ClassVar[frozenset[str]] = frozenset()  # yolor-cfg's own keys: no dialect evidence
    is_head: ClassVar[bool] = False  # a detection head: its outputs are the model's outputs
    aux_output: ClassVar[str | None] = None  # the name of an extra output besides the heads ('multilabel' logits,
    # 'embeddings'): training returns it as the layer computes it, inference as ``inference_aux`` turns it
    aux_inference: ClassVar[str | None] = None  # the output's name at inference (default: aux_output)
    # pass hooks
    inference_identity: ClassVar[bool] = False  # passes its first input through at inference (dce removes it)
    implicit_source: ClassVar[bool] = False  # a learned tensor with no input (fold_implicit reads it)
    implicit_op: ClassVar[str | None] = None  # 'add' | 'mul' | 'cat': applies an implicit tensor to its input
    passes_channels: ClassVar[bool] = False  # output channels = the previous layer's (heads trace filters= back)
    implicit_fold_refusal: ClassVar[str | None] = None  # applies implicit knowledge fold_implicit cannot fold: why
    # training: parameters of its module (names as in named_parameters) that weight decay must not pull to zero
    no_weight_decay: ClassVar[tuple[str, ...]] = ()
    # drawing: how edges from its non-sequential inputs look, and whether it closes a residual block
    edge_style: ClassVar[str] = "route"
    closes_residual: ClassVar[bool] = False
    # A cfg snippet that uses the kind, read after ``[net]`` 32x32x3 and a first 8-channel convolution (layer 0);
    # tests/compiler/layers/test_registry.py compiles, runs, differentiates and round-trips it for every kind.
    example: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def all_options(self) -> dict[str, Opt]:
        return {**COMMON_KEYS, **self.options}

    # ---- graph ----
    def input_refs(self, node: Node) -> list[tuple[int, str | None]]:
        """Layer references as written (relative or absolute) with the key they come from, besides the
        previous layer that ``sequential`` adds; the default is none."""
        return []

    def sequential(self, node: Node) -> bool:
        """Whether the previous layer is the first input (besides input_refs)."""
        return True

    def dialect_evidence(self, node: Node) -> list[tuple[str, str | None, str]]:
        """What the section says about the dialect: (dialect, option key or None, why) per fact.

        The default: a YOLOR-only section means yolor; a section YOLOR's code does not build, or a
        Darknet key that YOLOR's parser rejects, means darknet."""
        from ..dialects import YOLOR_PARSER_KEYS

        if self.yolor_only:
            return [("yolor", None, f"[{node.kind}] is a YOLOR-only section")]
        if not self.yolor_builds:
            return [("darknet", None, f"[{node.kind}] is a Darknet section that YOLOR's code does not build")]
        keys = sorted((k for k in node.given if k not in YOLOR_PARSER_KEYS | self.extension_keys),
                      key=lambda k: node.loc_of(k).line)
        return [("darknet", k, f"{k}= in [{node.kind}] is a Darknet key that YOLOR's cfg parser rejects")
                for k in keys]

    def validate(self, node: Node, ctx: Context) -> None:
        """Option checks that need no shapes; raise NodeError."""

    def infer(self, node: Node, in_shapes: list[Shape], ctx: Context) -> Shape:
        """The output shape; raise NodeError where the inputs do not fit."""
        return in_shapes[0]

    # ---- pass capabilities ----
    def affine_conv(self, node: Node) -> AffineConv | None:
        """How this layer is a convolution for fold_bn / fold_implicit, or None when it is not one."""
        return None

    def channel_affine(self, node: Node) -> str | None:
        """The prefix of BatchNorm tensors this layer applies, per channel, to its input (a standalone
        BatchNorm, which fold_bn moves into the convolution before it), or None."""
        return None

    def drop_batchnorm(self, node: Node) -> None:
        """Make ``node`` build without its own BatchNorm (fold_bn moved it into W and b); a kind whose
        affine_conv names a BatchNorm overrides this (the registry test checks that it does)."""

    def inference_output(self, node: Node) -> bool:
        """Whether the model returns this layer's output at inference: a head that is not training-only, or an
        aux output ([multilabel], [embedding]; dce keeps these, nothing else reads them)."""
        return self.is_head or self.aux_output is not None

    def head(self, node: Node, ctx: Context) -> HeadSpec | None:
        """The head contract of a node of a kind with ``is_head`` (the registry test checks they say it)."""
        return None

    def as_convolution(self, node: Node, params: dict, eps: float) -> tuple[str, dict, dict] | None:
        """(kind name, options, tensors) of the one convolution this layer computes at inference
        (fold_repconv rewrites it into that), or None when it is not one."""
        return None

    def inference_aux(self, value, raw: list):
        """(output name, tensor) of an ``aux_output`` layer at inference, from its training-time value and the
        inference heads' raw outputs (e.g. probabilities from logits; one embedding per detection)."""
        return self.aux_inference or self.aux_output, value

    def fold_own_implicit(self, node: Node, params: dict) -> tuple[dict, dict] | None:
        """For a kind whose module holds implicit knowledge of its own (iJDC, iJDE): the options and
        tensors of the same layer with it folded into its linear map (fold_implicit applies them);
        None when there is none."""
        return None

    def lowered_convolution(self, node: Node, params: dict) -> tuple[str, dict, dict] | None:
        """(kind name, options, tensors) of a convolution that computes this layer, for runtimes that lack
        its ops (the ``lower_to_conv`` pass, which export formats such as NCNN ask for); None when there is
        none. Unlike ``as_convolution`` it is not a simplification, so the default fuse does not run it."""
        return None

    # ---- drawing ----
    def draw_details(self, node: Node) -> list[str]:
        """Lines under the kind name in a diagram (heads get theirs from the head contract)."""
        return []

    # ---- backend ----
    def build(self, node: Node, ctx: Context) -> nn.Module:
        """A module whose forward takes the node's input tensors in order."""
        from ..modules.common import Identity

        return Identity()

    def num_params(self, node: Node) -> int:
        return 0

    def macs(self, node: Node) -> int:
        """Multiply-accumulates of the layer's convolution / matmul for one image."""
        return 0

    # ---- weights (Darknet .weights order); list of (tensor attribute path, shape) ----
    def darknet_layout(self, node: Node) -> list[tuple[str, tuple[int, ...]]]:
        return []


REGISTRY: dict[str, LayerKind] = {}
ALIASES: dict[str, str] = {}

# Real Darknet sections that yolor-cfg does not build, with what they are.
UNSUPPORTED: dict[str, str] = {
    "local": "locally connected layer", "crnn": "convolutional RNN", "rnn": "recurrent layer",
    "gru": "GRU", "lstm": "LSTM", "conv_lstm": "convolutional LSTM", "history": "history layer",
    "detection": "YOLOv1 detection layer", "Gaussian_yolo": "Gaussian YOLOv3's head; each of its boxes carries four variances that change its "
                     "score, and the detection pipeline (NMS, COCO evaluation, the ONNX output layout) has no place "
                     "for them",
    "contrastive": "contrastive loss layer", "normalization": "local response normalisation",
    "lrn": "local response normalisation", "reorg3d": "reorg3d layer",
    "implicit": "Darknet's [implicit] layer (use YOLOR's [implicit_add]/[implicit_mul])",
    "network": "a second [net] section",
}


def register(cls: type[LayerKind]) -> type[LayerKind]:
    inst = cls()
    REGISTRY[cls.name] = inst
    for alias in cls.aliases:
        ALIASES[alias] = cls.name
    return cls


def lookup(section_name: str) -> LayerKind | None:
    name = ALIASES.get(section_name, section_name)
    return REGISTRY.get(name)
