"""The code's shape (docs/ARCHITECTURE.md, DESIGN.md §2): module size, no import circle, layer direction.

Imports are read with ``ast`` from every module under ``lms/``, including imports inside
functions: a circle that only closes at call time is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LMS = ROOT / "lms"
MAX_LINES = 600

# The application's assembly: these modules wire every domain together (blueprints,
# CLI commands, jobs, the model registry for Alembic), so they may import any layer.
ASSEMBLY = {"lms", "lms.cli", "lms.jobs", "lms.models", "lms.wsgi"}

# Circles that cannot be avoided. Keep empty; each entry needs a reason.
ALLOWED_CIRCLES: set[frozenset[str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def lms_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(LMS.rglob("*.py")) if "migrations" not in path.parts}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The lms modules ``name`` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = []
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.append(submodule if submodule in known else base)
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = lms_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other in a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(group)
    return groups


def test_no_module_in_lms_is_over_600_lines():
    too_long = {
        str(path.relative_to(ROOT)): count
        for path in LMS.rglob("*.py")
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"modules over {MAX_LINES} lines: split them along their concerns"


def test_no_import_circle_between_lms_modules(graph):
    circles = [sorted(group) for group in strongly_connected(graph) if frozenset(group) not in ALLOWED_CIRCLES]
    assert circles == [], "import circles (counting imports inside functions): " + "; ".join(
        " <-> ".join(group) for group in circles
    )


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


# (importer package, imported package, why): an import from the first into the second breaks the layers.
FORBIDDEN = [
    ("lms", "lms.assessment", "nothing imports assessment: it sits on top and reads the domains below"),
    ("lms.media", "lms.courses", "media knows nothing of courses (courses register hooks on media)"),
    ("lms.exams.questions", "lms.exams.quizzes", "questions sit below quizzes"),
    ("lms.exams.questions", "lms.exams.contests", "questions sit below contests"),
    ("lms.exams.quizzes", "lms.exams.contests", "quizzes sit below contests"),
]


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for importer, targets in sorted(graph.items()):
        if importer in ASSEMBLY:
            continue
        for target in sorted(targets):
            for lower, higher, why in FORBIDDEN:
                if _inside(importer, lower) and _inside(target, higher) and not _inside(importer, higher):
                    found.append(f"{importer} imports {target}: {why}")
    return found


def test_imports_follow_the_layer_direction(graph):
    assert layer_violations(graph) == []


def test_the_checks_catch_a_circle_and_a_wrong_direction():
    circle = {"lms.a": {"lms.b"}, "lms.b": {"lms.c"}, "lms.c": {"lms.a"}, "lms.d": {"lms.a"}}
    assert strongly_connected(circle) == [{"lms.a", "lms.b", "lms.c"}]
    wrong = {"lms.exams.quizzes.views": {"lms.exams.contests.taking"}, "lms.media.admin": {"lms.courses.models"}}
    assert len(layer_violations(wrong)) == 2


def test_imports_inside_functions_count(tmp_path):
    module = tmp_path / "lms" / "exams" / "quizzes" / "x.py"
    module.parent.mkdir(parents=True)
    module.write_text("def f():\n    from lms.exams.contests import taking\n    from . import y\n")
    known = {"lms.exams.contests.taking", "lms.exams.quizzes.y", "lms.exams.quizzes.x"}
    assert imports_of("lms.exams.quizzes.x", module, known) == {"lms.exams.contests.taking", "lms.exams.quizzes.y"}
