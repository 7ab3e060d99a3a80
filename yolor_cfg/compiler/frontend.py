"""Frontend: cfg text -> sections with source positions (grammar/darknet_cfg.lark)."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import lark

from ..core.checks import NotText, decode_text
from ..core.errors import CfgError, Diagnostic, SourceLoc

MAX_FILE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class RawOption:
    key: str
    value: str  # raw text, '' for `key=`
    key_loc: SourceLoc
    value_loc: SourceLoc


@dataclass
class Section:
    name: str
    loc: SourceLoc
    options: list[RawOption] = field(default_factory=list)


@dataclass
class CfgSource:
    path: str
    text: str
    sections: list[Section]


def _grammar_text() -> str:
    local = Path(__file__).resolve().parents[2] / "grammar" / "darknet_cfg.lark"
    if local.is_file():
        return local.read_text()
    return resources.files("yolor_cfg.grammar").joinpath("darknet_cfg.lark").read_text()


@functools.cache
def _parser() -> lark.Lark:
    return lark.Lark(_grammar_text(), parser="lalr", lexer="contextual", propagate_positions=True)


def _loc(path: str, lines: list[str], line: int, col: int) -> SourceLoc:
    src = lines[line - 1] if 0 < line <= len(lines) else None
    return SourceLoc(path, line, col, src)


def _describe_token(tok: lark.Token) -> str:
    if tok.type == "$END":
        return "end of file"
    text = str(tok).replace("\r", "").replace("\n", "")
    if not text:
        return "end of line"
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


_EXPECT_WORDS = {"NAME": "a section name", "KEY": "a key", "VALUE": "a value", "EQUAL": "'='",
                 "RSQB": "']'", "LSQB": "'['", "_NL": "end of line", "$END": "end of file"}


def _syntax_message(exc: lark.exceptions.UnexpectedInput) -> str:
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        ch = exc.char
        shown = repr(ch) if ch.isprintable() else f"character U+{ord(ch):04X}"
        allowed = sorted(_EXPECT_WORDS.get(t, t) for t in exc.allowed) if exc.allowed else []
        hint = f" (expected {', '.join(allowed)})" if allowed else ""
        return f"syntax error: unexpected {shown}{hint}; lines are `[section]`, `key=value` or comments"
    if isinstance(exc, lark.exceptions.UnexpectedToken):
        expected = sorted({_EXPECT_WORDS.get(t, t) for t in exc.expected})
        return (f"syntax error: unexpected {_describe_token(exc.token)}"
                f" (expected {' or '.join(expected)})")
    return "syntax error: unexpected end of file"


def parse_text(text: str, path: str = "<string>") -> CfgSource:
    """Parse cfg text into sections. Raises CfgError (with line:col) on syntax errors.

    Options before any section are reported as errors; semantic checks come later.
    """
    lines = re.split(r"\r\n|\n", text)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise CfgError([Diagnostic(SourceLoc(path, line, 1), "this is a binary file, not a cfg text file")])
    if not text.strip():
        raise CfgError([Diagnostic(SourceLoc(path, 1, 1), "empty file: a cfg needs a [net] section and layers")])
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        line, col = max(exc.line, 1), max(exc.column, 1)
        if isinstance(exc, lark.exceptions.UnexpectedToken) and exc.token.type == "$END":
            line, col = len(lines) or 1, (len(lines[-1]) + 1 if lines else 1)
        raise CfgError([Diagnostic(_loc(path, lines, line, col), _syntax_message(exc))]) from None

    sections: list[Section] = []
    errors: list[Diagnostic] = []
    for item in tree.children:
        if item.data == "section":
            name_tok = item.children[0]
            sections.append(Section(str(name_tok), _loc(path, lines, item.meta.line, item.meta.column)))
            continue
        key_tok = item.children[0]
        val_tok = item.children[1] if len(item.children) > 1 else None
        key_loc = _loc(path, lines, key_tok.line, key_tok.column)
        if val_tok is None:
            value, value_loc = "", key_loc
        else:
            value, value_loc = str(val_tok), _loc(path, lines, val_tok.line, val_tok.column)
        if not sections:
            errors.append(Diagnostic(key_loc, f"option '{key_tok}' before any section; start the file with [net]"))
            continue
        sections[-1].options.append(RawOption(str(key_tok), value, key_loc, value_loc))
    if errors:
        raise CfgError(errors)
    if not sections:
        raise CfgError([Diagnostic(SourceLoc(path, 1, 1), "no sections, only comments: a cfg needs a [net] section "
                                                           "and layers")])
    return CfgSource(path, text, sections)


def read_cfg_text(path: str | Path) -> str:
    """Read a cfg file as text; binary or oversized files raise CfgError."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise CfgError([Diagnostic(SourceLoc(str(path), 1, 1), f"cannot read file: {exc.strerror}")]) from None
    if len(data) > MAX_FILE_BYTES:
        raise CfgError([Diagnostic(SourceLoc(str(path), 1, 1),
                                   f"file is {len(data)} bytes; a cfg file is at most {MAX_FILE_BYTES}")])
    try:
        return decode_text(data, str(path))
    except NotText as exc:
        why = "this is a binary file, not a cfg text file" if exc.binary else "this is not a UTF-8 text file (binary data?)"
        raise CfgError([Diagnostic(SourceLoc(str(path), exc.line, 1), why)]) from None


def parse_file(path: str | Path) -> CfgSource:
    return parse_text(read_cfg_text(path), str(path))
