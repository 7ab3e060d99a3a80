"""Dialects: whose semantics a cfg follows where YOLOR's PyTorch code and Darknet differ.

The dialect is decided from evidence, never guessed silently: each layer kind says what its
section and options tell (``LayerKind.dialect_evidence``), ``decide_dialect`` weighs it, and
loading weights adds the weight file's evidence (``weights_dialect_change``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import SourceLoc


@dataclass(frozen=True)
class Dialect:
    name: str
    bn_eps: float
    description: str


DIALECTS = {
    "yolor": Dialect("yolor", 1e-4, "YOLOR PyTorch: space-to-depth reorg, scaled-YOLOv4 decoding, BN eps 1e-4, "
                                    "zero-padded 2x2/1 maxpool"),
    "darknet": Dialect("darknet", 1e-5, "Darknet: reorg_old element order, scale_x_y/new_coords decoding, "
                                        "BN eps 1e-5, -inf maxpool padding"),
}

# Keys YOLOR's cfg parser (utils/parse_config.py) accepts in layer sections; it rejects any other
# key, so a Darknet key outside this set means the file was not written for YOLOR's code.
YOLOR_PARSER_KEYS = frozenset({
    "type", "batch_normalize", "filters", "size", "stride", "pad", "activation", "layers", "groups", "from",
    "mask", "anchors", "classes", "num", "jitter", "ignore_thresh", "truth_thresh", "random", "stride_x",
    "stride_y", "weights_type", "weights_normalization", "scale_x_y", "beta_nms", "nms_kind", "iou_loss",
    "iou_normalizer", "cls_normalizer", "iou_thresh", "atoms", "na", "nc", "probability"})

# Activations YOLOR's convolution builds; it silently builds any other name as linear.
YOLOR_ACTIVATIONS = frozenset({"leaky", "swish", "mish", "logistic", "silu", "linear"})

# The dialect assumed when a file and its weights give no evidence (Darknet's own format).
DEFAULT_DIALECT = "darknet"


@dataclass(frozen=True)
class Evidence:
    """One fact that means a dialect: ``what`` at ``loc`` (a cfg position, or a weight file)."""

    dialect: str
    loc: SourceLoc
    what: str

    def __str__(self) -> str:
        where = f"{self.loc.path}:{self.loc.line}" if self.loc.line else self.loc.path
        return f"{where}: {self.what}"


@dataclass(frozen=True)
class DialectChoice:
    """The decided dialect; ``source`` is 'user' (argument), 'net' ([net] dialect=), 'evidence'
    (the file says so), 'weights' (loaded weights said so) or 'default' (no evidence at all)."""

    dialect: Dialect
    source: str
    reason: str
    evidence: tuple[Evidence, ...] = ()

    @property
    def detected(self) -> bool:
        return self.source in ("evidence", "default")


def _summary(evidence: list[Evidence]) -> str:
    first = evidence[0]
    more = f" (and {len(evidence) - 1} more)" if len(evidence) > 1 else ""
    return f"line {first.loc.line}: {first.what}{more}"


def conflict_message(a: Evidence, b: Evidence) -> str:
    return (f"conflicting dialect evidence: {a} means {a.dialect}, but {b} means {b.dialect}; "
            f"say which semantics the file follows with [net] dialect=yolor|darknet (or --dialect / dialect=)")


def decide_dialect(evidence: list[Evidence], user: str | None = None, net: str | None = None) -> DialectChoice:
    """The dialect from the user's choice, [net] dialect=, or the file's evidence, in that order.

    Raises ValueError for an unknown ``user`` name; returns a choice whose ``reason`` says why. A file
    whose evidence conflicts is the caller's to report (``conflicting_evidence``)."""
    if user is not None:
        if user not in DIALECTS:
            raise ValueError(f"unknown dialect {user!r}; choose one of {', '.join(DIALECTS)}")
        return DialectChoice(DIALECTS[user], "user", "chosen by the user", tuple(evidence))
    if net:
        return DialectChoice(DIALECTS[net], "net", "set in [net] dialect=", tuple(evidence))
    for name in DIALECTS:
        found = [e for e in evidence if e.dialect == name]
        if found and all(e.dialect == name for e in evidence):
            return DialectChoice(DIALECTS[name], "evidence", f"detected from {_summary(found)}", tuple(evidence))
    return DialectChoice(DIALECTS[DEFAULT_DIALECT], "default",
                         "no evidence: Darknet semantics assumed (YOLOR .pt weights switch it to yolor)", ())


def conflicting_evidence(evidence: list[Evidence]) -> tuple[Evidence, Evidence] | None:
    """The first pieces of evidence for two different dialects, or None."""
    firsts = {}
    for e in evidence:
        firsts.setdefault(e.dialect, e)
    if len(firsts) < 2:
        return None
    a, b = sorted(firsts.values(), key=lambda e: e.loc.line)
    return a, b


class DialectConflict(Exception):
    """Weights whose format means one dialect, loaded into a file whose evidence means the other."""


def weights_dialect_change(choice: DialectChoice, weights: Evidence) -> DialectChoice | None:
    """What loading weights of ``weights.dialect`` does to a model compiled with ``choice``:
    None (nothing changes), a new choice (a dialect assumed for want of evidence now rests on the
    weights, switching if they differ), or DialectConflict (the file's evidence says otherwise)."""
    if choice.source in ("user", "net") or (weights.dialect == choice.dialect.name and choice.source != "default"):
        return None
    if choice.source in ("evidence", "weights"):
        raise DialectConflict(conflict_message(choice.evidence[0], weights))
    return DialectChoice(DIALECTS[weights.dialect], "weights", f"from the weights: {weights}", (weights,))
