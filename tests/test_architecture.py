"""The package's first-level parts depend on each other one way: no import cycle between them,
counting imports inside functions (annotations under TYPE_CHECKING excepted: they run nothing)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "yolor_cfg"


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _type_checking_nodes(tree) -> set:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def dependencies() -> dict[str, set[str]]:
    """first-level part -> the parts it imports (relative imports anywhere in its files)."""
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        package = module if rel.name == "__init__" else module.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text())
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.level or id(node) in skip:
                continue
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            targets = [".".join(base + [node.module])] if node.module else [".".join(base + [a.name]) for a in node.names]
            for target in targets:
                a, b = _part(module), _part(target)
                if a and b and a != b:
                    edges.setdefault(a, set()).add(b)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(v):
        state[v] = 1
        path.append(v)
        for w in sorted(edges.get(v, ())):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state and (found := visit(w)):
                return found
        state[v] = 2
        path.pop()
        return None

    for v in sorted(edges):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_no_import_cycle_between_parts():
    cycle = find_cycle(dependencies())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_inference_code_does_not_depend_on_training():
    edges = dependencies()
    assert "train" not in edges.get("detect", set()) and "train" not in edges.get("export", set())
    assert "backends" not in edges.get("layers", set())  # modules and activations live with the layers
