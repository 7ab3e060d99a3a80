"""Graph passes (IR -> IR, with tensors): each matches, checks (saying why it declined), rewrites
and reports. ``run_pipeline`` runs a list of passes to a fixed point."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .base import PassResult, WeightedGraph
from .dce import dce
from .fold_bn import fold_bn
from .fold_implicit import fold_implicit
from .fold_repconv import fold_repconv
from .lower_to_conv import lower_to_conv


@dataclass(frozen=True)
class Pass:
    """A registered pass: its name, the function (WeightedGraph -> PassResult) and the verb its
    report uses for what it changed."""

    name: str
    run: Callable[[WeightedGraph], PassResult]
    verb: str


PASSES = {p.name: p for p in (Pass("fold_repconv", fold_repconv, "folded"), Pass("fold_bn", fold_bn, "folded"),
                              Pass("fold_implicit", fold_implicit, "folded"), Pass("dce", dce, "removed"),
                              Pass("lower_to_conv", lower_to_conv, "lowered"))}
FUSE_PIPELINE = ("fold_repconv", "fold_bn", "fold_implicit", "dce")


@dataclass
class PipelineReport:
    rewrites: dict[str, list[str]] = field(default_factory=dict)
    declined: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def summary(self) -> str:
        parts = []
        for name in self.rewrites:
            n, d = len(self.rewrites[name]), len(self.declined[name])
            if not n and not d:  # a pass with nothing to match (no [repconv] in most networks) says nothing
                continue
            parts.append(f"{name}: {n} {PASSES[name].verb}" + (f", {d} declined" if d else ""))
        return " · ".join(parts)

    def details(self) -> str:
        lines = []
        for name in self.rewrites:
            lines += [f"{name}: {r}" for r in self.rewrites[name]]
            lines += [f"{name}: declined layer {i}: {why}" for i, why in self.declined[name]]
        return "\n".join(lines)


def run_pipeline(wg: WeightedGraph, names=FUSE_PIPELINE, max_rounds: int = 10) -> tuple[WeightedGraph, PipelineReport]:
    """Run the passes in order, repeatedly, until none changes the graph."""
    report = PipelineReport({n: [] for n in names}, {n: [] for n in names})
    for _ in range(max_rounds):
        changed = False
        for name in names:
            result: PassResult = PASSES[name].run(wg)
            wg = result.wg
            report.rewrites[name] += result.rewrites
            report.declined[name] = result.declined  # the last round's reasons are the final ones
            changed |= result.changed
        if not changed:
            break
    return wg, report
