"""The documentation stays true: every ``yolor-cfg`` command shown in README.md and docs/*.md exists and
takes the options shown (its ``--help`` runs), every cfg snippet parses, every Python snippet compiles,
every local link points at a file, and the README stays a first read (under 350 lines)."""
import re
import shlex
from pathlib import Path

import pytest

from yolor_cfg.cli import build_parser, main
from yolor_cfg.compiler.frontend import parse_text
from yolor_cfg.compiler.graph import build_graph

from tests.helpers import cli_subparser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def blocks():
    for doc in DOCS:
        for match in FENCE.finditer(doc.read_text()):
            yield doc, match.group(1), match.group(2)


def shown_commands() -> list[tuple[str, list[str]]]:
    """(document, argv after ``yolor-cfg``) for every command line in a shell or plain block."""
    found = []
    for doc, lang, text in blocks():
        if lang not in ("", "bash", "sh", "console"):
            continue
        for line in text.replace("\\\n", " ").splitlines():
            for part in re.split(r"&&|\|\||;|\|", line.split(" #")[0]):
                words = part.strip().removeprefix("$ ").split()
                if words[:1] == ["yolor-cfg"] and len(words) > 1:
                    found.append((doc.name, shlex.split(" ".join(words[1:]), comments=True)))
    return found


def test_the_readme_is_a_first_read():
    assert len((ROOT / "README.md").read_text().splitlines()) < 350


def test_every_shown_command_exists_and_takes_its_options():
    modules = build_parser()[1]
    shown = shown_commands()
    assert {argv[0] for _, argv in shown} >= {"demo", "train", "val", "export", "detect", "info", "check"}
    for doc, argv in shown:
        assert argv[0] in modules, f"{doc}: yolor-cfg {' '.join(argv)}: no command {argv[0]!r}"
        command = cli_subparser(" ".join(argv[:2]) if argv[0] == "data" else argv[0])
        known = {s for a in command._actions for s in a.option_strings}
        for word in argv[1:]:
            flag = word.split("=")[0]
            if flag.startswith("--"):
                assert flag in known, f"{doc}: yolor-cfg {' '.join(argv)}: {argv[0]} has no option {flag}"


@pytest.mark.parametrize("command", sorted(build_parser()[1]))
def test_every_command_answers_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0 and command in capsys.readouterr().out


def test_every_cfg_snippet_parses():
    snippets = [(doc, text) for doc, lang, text in blocks()
                if lang in ("ini", "cfg") or (lang == "" and re.match(r"\s*(#.*\n\s*)*\[\w+\]\s*\n", text))]
    assert snippets
    for doc, text in snippets:
        source = parse_text(text, f"<{doc.name} snippet>")  # a CfgError names the line
        if source.sections[0].name == "net":
            build_graph(source)  # a whole network: shapes, inputs and heads check too


def test_every_python_snippet_compiles():
    snippets = [(doc, text) for doc, lang, text in blocks() if lang == "python"]
    assert snippets
    for doc, text in snippets:
        compile(text, f"<{doc.name} snippet>", "exec")


def test_local_links_point_at_files():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" not in target:
                assert (doc.parent / target).exists(), f"{doc.name}: link to {target}"
