"""The package is tiered and each tier imports only the tiers below it (imports inside functions
count; annotations under TYPE_CHECKING do not: they run nothing):

    core  <  compiler  <  deploy  <  workflows  <  api  <  cli

and inside the compiler the layer kinds do not reach the executor, passes or weights code above them;
the kinds' torch modules (compiler/modules/) know nothing of the kinds, and reading, checking and
describing a cfg never imports torch (it costs a second and a half before a command answers)."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "yolor_cfg"
TIERS = ("core", "compiler", "deploy", "workflows", "api", "cli")
LOOSE = {"", "__main__"}  # yolor_cfg/__init__.py (lazy names) and python -m yolor_cfg


def _type_checking_nodes(tree) -> set:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def imports() -> dict[str, set[str]]:
    """module (dotted, without the leading ``yolor_cfg.``) -> the yolor_cfg modules it imports."""
    edges: dict[str, set[str]] = {}
    known = {".".join(p.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
             for p in PACKAGE.rglob("*.py")}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        module = ".".join(parts)
        package = module if rel.name == "__init__" else ".".join(parts[:-1])
        tree = ast.parse(path.read_text())
        skip = _type_checking_nodes(tree)
        found = edges.setdefault(module, set())
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                found.update(a.name.removeprefix("yolor_cfg.") for a in node.names if a.name.startswith("yolor_cfg."))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".") if package else []
                    base = base[: len(base) - node.level + 1]
                elif node.module == "yolor_cfg" or node.module.startswith("yolor_cfg."):
                    base = []
                    node = ast.ImportFrom(module=node.module.removeprefix("yolor_cfg").lstrip(".") or None,
                                          names=node.names, level=1)
                else:
                    continue
                prefix = base + (node.module.split(".") if node.module else [])
                # "from .p import x": the module p.x where there is one, else an attribute of p
                targets = [".".join(prefix + [a.name]) for a in node.names]
                found.update(t if t in known else ".".join(prefix) for t in targets)
    return edges


def tier(module: str) -> str:
    return module.split(".")[0]


def test_every_module_is_in_a_tier():
    strays = sorted(m for m in imports() if tier(m) not in TIERS and m not in LOOSE)
    assert not strays, f"modules outside the tiers {TIERS}: {strays}"


def test_each_tier_imports_only_the_tiers_below():
    rank = {t: i for i, t in enumerate(TIERS)}
    upward = sorted(f"{m} imports {t}" for m, targets in imports().items() if m not in LOOSE
                    for t in targets if tier(t) in rank and rank[tier(t)] > rank[tier(m)])
    assert not upward, "imports against the tier order:\n" + "\n".join(upward)


@pytest.mark.parametrize("low, high", [("compiler.layers", "compiler.executor"), ("compiler.layers", "compiler.passes"),
                                       ("compiler.layers", "compiler.io"), ("compiler.layers", "compiler.model"),
                                       ("compiler.modules", "compiler.layers"), ("compiler.modules", "compiler.graph"),
                                       ("workflows.eval", "workflows.train"), ("workflows.detect", "workflows.train")])
def test_inside_a_tier(low, high):
    offending = sorted(m for m, targets in imports().items() if m.startswith(low)
                       for t in targets if t == high or t.startswith(high + "."))
    assert not offending, f"{offending} import {high}"


def test_the_checker_sees_imports_in_functions_and_absolute_ones(tmp_path, monkeypatch):
    pkg = tmp_path / "yolor_cfg"
    for sub in ("core", "workflows"):
        (pkg / sub).mkdir(parents=True)
    (pkg / "workflows" / "detect.py").write_text("")
    (pkg / "core" / "__init__.py").write_text("")
    (pkg / "core" / "a.py").write_text("def f():\n    from ..workflows import detect\n")
    (pkg / "core" / "b.py").write_text("import yolor_cfg.deploy.runtimes\nfrom yolor_cfg.compiler.graph import Graph\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    found = imports()
    assert found["core.a"] == {"workflows.detect"}
    assert found["core.b"] == {"deploy.runtimes", "compiler.graph"}


def kind_name_tests(root: Path = PACKAGE) -> list[str]:
    """Places outside the kinds (compiler/layers/ and their modules) that decide by a layer kind's name: a comparison or a
    startswith/endswith on a ``.kind``, or a comparison with a registered section name."""
    from yolor_cfg.compiler.layers.base import ALIASES, REGISTRY

    names = set(REGISTRY) | set(ALIASES)
    found = []
    for path in sorted(root.rglob("*.py")):
        if {root / "compiler" / "layers", root / "compiler" / "modules"} & set(path.parents):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                consts = {c.value for side in sides for c in ast.walk(side)
                          if isinstance(c, ast.Constant) and isinstance(c.value, str)}
                if any(isinstance(s, ast.Attribute) and s.attr == "kind" for s in sides) or consts & names:
                    found.append(f"{where}: {ast.unparse(node)}")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in ("startswith", "endswith")
                  and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "kind"):
                found.append(f"{where}: {ast.unparse(node)}")
    return found


def test_no_module_outside_the_layers_tests_a_kind_name():
    found = kind_name_tests()
    assert not found, "declare the fact on the LayerKind instead:\n" + "\n".join(found)


def test_the_kind_name_scan_finds_one(tmp_path):
    (tmp_path / "draw.py").write_text('if node.kind == "shortcut":\n    pass\nok = n.kind.endswith("_2d")\n'
                                      'x = "yolo" in names\n')
    assert len(kind_name_tests(tmp_path)) == 3


def test_checking_a_cfg_does_not_import_torch(tmp_path):
    """``--help``, ``check`` and ``info`` answer without torch: the layer kinds import their modules in
    ``build``, and nothing on the way from the command line to the layer table imports it at the top."""
    cfg = Path(__file__).resolve().parents[1] / "cfg" / "yolor_p6.cfg"
    script = (f"import sys\nfrom yolor_cfg.cli import main\n"
              f"for argv in (['check', {str(cfg)!r}], ['info', {str(cfg)!r}], ['info', '--json', {str(cfg)!r}]):\n"
              f"    assert main(argv) == 0, argv\n"
              f"loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
              f"assert not loaded, loaded[:5]\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]


def test_every_package_is_installed():
    """pyproject lists the packages by hand: a new subpackage left out works in a checkout and is missing
    from a wheel."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(("yolor_cfg",) + p.parent.relative_to(PACKAGE).parts) for p in PACKAGE.rglob("__init__.py")}
    assert not found - listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
