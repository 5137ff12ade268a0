"""Imports run one way: core at the bottom, then storage and knowledge, schedules, services,
handlers, channels, and app.py, cli.py, bot.py on top. No module imports a higher layer (nor a
different package of its own layer), no import cycle exists, counting the imports made inside
functions too, and each of those says why it is there."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"core": 0, "storage": 1, "knowledge": 1, "schedules": 2, "services": 3,
          "handlers": 4, "channels": 5, "app": 6, "cli": 7, "bot": 8}


def modules() -> dict[str, Path]:
    out = {}
    for top, _rank in LAYERS.items():
        if (ROOT / f"{top}.py").exists():
            out[top] = ROOT / f"{top}.py"
        for path in sorted((ROOT / top).glob("**/*.py")) if (ROOT / top).is_dir() else ():
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = modules()


def resolve(name: str) -> str | None:
    """The project module an import names (`handlers.faq.on_text` -> `handlers.faq`)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module imported, line, inside a function) for every import of a project module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inner = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
             for n in ast.walk(f)}
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            target = resolve(name)
            if target is not None:
                out.append((target, node.lineno, id(node) in inner))
    return out


def layer(module: str) -> tuple[int, str]:
    top = module.split(".")[0]
    return LAYERS[top], top


GRAPH = {m: sorted({t for t, _line, _inner in imports(p) if t != m}) for m, p in MODULES.items()}


def test_every_package_is_walked():
    assert {"core.areas", "storage.reminders", "schedules.service", "services.roles",
            "handlers.assistant", "channels.telegram", "app", "cli", "bot"} <= set(MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_runs_upward(module):
    rank, top = layer(module)
    wrong = []
    for target, line, _inner in imports(MODULES[module]):
        t_rank, t_top = layer(target)
        if t_rank > rank or (t_rank == rank and t_top != top):
            wrong.append(f"{module}:{line} imports {target}")
    assert not wrong, wrong


def test_no_import_cycle():
    """Tarjan's strongly connected components over module imports (inner ones included)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_imports_inside_functions_say_why():
    """An import inside a function is for start-up cost, with a comment saying so."""
    unexplained = []
    for module, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        for f in ast.walk(tree):
            if not isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(f):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    line = lines[node.lineno - 1]
                    before = lines[node.lineno - 2].strip()
                    comment = line.partition("#")[2].replace("noqa: PLC0415", "").strip(" -")
                    if not (comment or before.startswith("#")):
                        unexplained.append(f"{module}:{node.lineno}")
    assert not unexplained, unexplained


def test_the_checker_sees_an_upward_import(tmp_path):
    """The walker finds imports inside functions and from-imports of names (so it can fail)."""
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from handlers.faq import on_text\n", encoding="utf-8")
    assert imports(sample) == [("handlers.faq", 2, True)]
