import pytest

from yolor_cfg.core.errors import CfgError
from yolor_cfg.compiler.frontend import parse_text


def test_comments_blanks_whitespace_crlf_and_missing_final_newline():
    text = ("# heading\r\n[net]\r\n  width = 64  # trailing\r\n; whole-line\r\n\r\n"
            "[convolutional]\r\nsize = 1 , 3 ;also trailing\r\nactivation=leaky")
    src = parse_text(text, "t.cfg")
    assert [s.name for s in src.sections] == ["net", "convolutional"]
    width = src.sections[0].options[0]
    assert (width.key, width.value, width.key_loc.line, width.key_loc.col, width.value_loc.col) == ("width", "64", 3, 3, 11)
    assert src.sections[1].options[0].value == "1 , 3"
    assert src.sections[1].options[1].value == "leaky"


def test_empty_value_is_kept_for_the_schema_to_judge():
    src = parse_text("[net]\nwidth=\n")
    assert src.sections[0].options[0].value == ""


@pytest.mark.parametrize("text, line, col, words", [
    ("[net\nwidth=1\n", 1, 5, "expected ']'"),
    ("[net]\nfoo bar\n", 2, 5, "expected '='"),
    ("[net]\nx==3\n", 2, 3, "unexpected '='"),
    ("[net]\n[conv] junk\n", 2, 8, "syntax error"),
])
def test_syntax_errors_have_positions(text, line, col, words):
    with pytest.raises(CfgError) as info:
        parse_text(text, "bad.cfg")
    d = info.value.diagnostics[0]
    assert (d.loc.line, d.loc.col) == (line, col)
    assert words in d.message
    assert str(d).startswith(f"bad.cfg:{line}:{col}: error: ")


def test_key_before_any_section():
    with pytest.raises(CfgError, match=r"x.cfg:1:1: error: option 'width' before any section"):
        parse_text("width=3\n[net]\n", "x.cfg")


def test_empty_and_binary_text():
    with pytest.raises(CfgError, match="empty file"):
        parse_text("  \n\n# only a comment\n".replace("# only a comment", ""), "e.cfg")
    with pytest.raises(CfgError, match="binary file"):
        parse_text("[net]\n\x00\x01", "b.cfg")
    with pytest.raises(CfgError, match=r"c.cfg:1:1: error: no sections, only comments"):
        parse_text("# Testing\n; another\n", "c.cfg")


def test_error_shows_source_line_with_caret():
    with pytest.raises(CfgError) as info:
        parse_text("[net]\nfoo bar\n", "bad.cfg")
    assert info.value.diagnostics[0].format().splitlines()[1:] == ["    foo bar", "        ^"]
