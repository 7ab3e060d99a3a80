"""Property test: mutated versions of real cfgs never crash `check` and always get positions."""
import re
import pytest
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yolor_cfg.cli.check import check_file

from tests.helpers import FIXTURES as SHARED

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.glob("cfg/*.cfg"), *SHARED.glob("reference-cfg/*/*.cfg"), *SHARED.glob("conformance/*.cfg")])
TEXTS = [p.read_text().splitlines() for p in SOURCES]
DIAG = re.compile(r"^\S.*:\d+:\d+: (error|warning): .+")
JUNK = st.sampled_from(["", "abc", "-1", "0", "999999999", "1,2,", "nan", "inf", "1e40", "=", "[", "]", "[net]",
                        "[yolo]", "#", ";", "layers=-1", "from=-3", "\t", "é", "\x00", "1.5", ",", "-9999"])


@st.composite
def mutated(draw):
    lines = list(draw(st.sampled_from(TEXTS)))
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            lines.append("")
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "swap", "value", "junk", "bytes"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "value" and "=" in lines[i]:
            lines[i] = lines[i].split("=")[0] + "=" + draw(JUNK)
        elif op == "junk":
            lines[i] = draw(JUNK)
        else:
            lines[i] = draw(st.binary(max_size=40)).decode("latin-1")
    return "\n".join(lines)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated(), img_size=st.sampled_from([None, 64]))
def test_mutated_cfgs_give_clean_diagnostics(tmp_path_factory, text, img_size):
    path = tmp_path_factory.getbasetemp() / "mutant.cfg"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    ok, diags, _ = check_file(str(path), img_size=img_size)  # its speed is tools/bench_parse.py's business
    assert ok or any(d.severity == "error" for d in diags)
    for d in diags:
        line = str(d)
        assert DIAG.match(line) and "\n" not in line, line
        assert d.loc.line >= 1 and d.loc.col >= 1
