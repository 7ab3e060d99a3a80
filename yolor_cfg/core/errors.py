"""Diagnostics with source positions: ``path:line:col: error: message``."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceLoc:
    """A position in a cfg file (1-based line and column)."""

    path: str
    line: int
    col: int
    source_line: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    loc: SourceLoc
    message: str
    severity: str = "error"  # or "warning"

    def format(self, show_source: bool = True) -> str:
        text = f"{self.loc}: {self.severity}: {self.message}"
        src = self.loc.source_line
        if show_source and src is not None:
            shown = src if len(src) <= 120 else src[:117] + "..."
            caret_col = min(self.loc.col, len(shown) + 1)
            text += "\n    " + shown + "\n    " + " " * (caret_col - 1) + "^"
        return text

    def __str__(self) -> str:
        return self.format(show_source=False)


class YolorCfgError(Exception):
    """Base class of every error this package raises on purpose."""


class DataError(YolorCfgError, ValueError):
    """A data.yaml, dataset, label or tracking file that cannot be used (says what is wrong, with the file)."""


class CfgError(YolorCfgError):
    """One or more errors in a cfg file; ``diagnostics`` holds all of them."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = [d for d in diagnostics if d.severity == "error"]
        super().__init__("\n".join(d.format() for d in self.diagnostics))


class WeightsError(YolorCfgError):
    """A weight file that does not fit the network (names the layer and the sizes)."""


@dataclass
class DiagnosticSink:
    """Collects diagnostics of one file; ``raise_if_errors`` raises them all at once."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, loc: SourceLoc, message: str) -> None:
        self.diagnostics.append(Diagnostic(loc, message, "error"))

    def warning(self, loc: SourceLoc, message: str) -> None:
        self.diagnostics.append(Diagnostic(loc, message, "warning"))

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise CfgError(self.diagnostics)
