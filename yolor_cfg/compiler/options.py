"""Typed option schemas: each layer kind declares its keys with Darknet's defaults."""
from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Any


class OptionValueError(ValueError):
    """A value that does not fit its option's type; the message says what would."""


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        # Darknet parses with atoi/atof: "1.0" is a common spelling of an integer.
        try:
            f = float(text)
        except ValueError:
            raise OptionValueError(f"expected an integer, got {text.strip()[:40]!r}") from None
        if not math.isfinite(f) or f != int(f):
            raise OptionValueError(f"expected an integer, got {text.strip()[:40]!r}") from None
        return int(f)


def _float(text: str) -> float:
    try:
        f = float(text.strip())
    except ValueError:
        raise OptionValueError(f"expected a number, got {text.strip()[:40]!r}") from None
    if not math.isfinite(f):
        raise OptionValueError(f"expected a finite number, got {text.strip()[:40]!r}")
    return f


def _items(text: str) -> list[str]:
    parts = [p.strip() for p in text.split(",")]
    if parts and parts[-1] == "":  # Darknet tolerates a trailing comma
        parts.pop()
    if not parts or any(p == "" for p in parts):
        raise OptionValueError(f"expected a comma-separated list, got {text.strip()[:40]!r}")
    return parts


@dataclass(frozen=True)
class Opt(abc.ABC):
    """One key of a section: its default (None = required or absent) and checks."""

    default: Any = None
    required: bool = False
    min: float | None = None
    doc: str = ""

    @abc.abstractmethod
    def parse(self, text: str) -> Any:
        """The typed value of ``text``; raises OptionValueError."""

    def check(self, value: Any) -> None:
        if self.min is None:
            return
        values = value if isinstance(value, list) else [value]
        for v in values:
            if v < self.min:
                raise OptionValueError(f"must be at least {self.min:g}, got {v:g}")


@dataclass(frozen=True)
class Int(Opt):
    def parse(self, text: str) -> int:
        return _int(text)


@dataclass(frozen=True)
class Float(Opt):
    def parse(self, text: str) -> float:
        return _float(text)


@dataclass(frozen=True)
class Ints(Opt):
    def parse(self, text: str) -> list[int]:
        return [_int(p) for p in _items(text)]


@dataclass(frozen=True)
class Floats(Opt):
    def parse(self, text: str) -> list[float]:
        return [_float(p) for p in _items(text)]


@dataclass(frozen=True)
class Str(Opt):
    def parse(self, text: str) -> str:
        if not text.strip():
            raise OptionValueError("expected a value")
        return text.strip()


@dataclass(frozen=True)
class Choice(Opt):
    choices: tuple[str, ...] = ()

    def parse(self, text: str) -> str:
        value = text.strip()
        if value not in self.choices:
            raise OptionValueError(f"{value[:40]!r} is not one of: {', '.join(self.choices)}")
        return value


@dataclass(frozen=True)
class Inert(Opt):
    """A key Darknet knows that does not change the network we build (kept as text)."""

    def parse(self, text: str) -> str:
        return text.strip()


@dataclass(frozen=True)
class Refused(Opt):
    """A key Darknet knows whose non-default values change the network in ways we do not build."""

    reason: str = ""

    def parse(self, text: str) -> Any:
        return text.strip()

    def is_default(self, value: str) -> bool:
        try:
            return float(value) == float(self.default)
        except (TypeError, ValueError):
            return value == str(self.default)


# Keys Darknet's parser reads for every layer (training controls and load controls).
COMMON_KEYS: dict[str, Opt] = {
    k: Inert() for k in ("clip", "onlyforward", "dont_update", "burnin_update", "stopbackward",
                         "train_only_bn", "dontload", "dontloadscales", "learning_rate")
}
