"""The import rules of the layout, checked on the source (the AST of every module).

- ``orders`` never imports ``payments`` (it tells payments through its signals);
- a provider imports no models but its own (the boundary is dataclasses, no ORM);
- no cycle between the project's modules;
- no import inside a function (the way a cycle is usually hidden), except in
  ``AppConfig.ready``, where Django wants signal receivers connected.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shop", "orders", "payments", "worker")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(module: str, name: str | None = None) -> str | None:
    """The project module an import names (``from a import b`` may name module ``a.b``)."""
    if name and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    return module if module in MODULES else None


def _imports(tree: ast.AST, source: str) -> Iterator[tuple[str, ast.stmt]]:
    """Every project module imported by the statements under ``tree``."""
    package = source if MODULES[source].name == "__init__.py" else source.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name)
                if target:
                    yield target, node
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                target = _resolve(base, alias.name)
                if target:
                    yield target, node


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _graph() -> dict[str, set[str]]:
    """Module-level imports between project modules (what runs at import time)."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        in_functions = {id(node) for function in _functions(tree) for node in ast.walk(function)}
        graph[name] = {
            target
            for target, node in _imports(tree, name)
            if id(node) not in in_functions and target != name
        }
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_rules_see_the_modules_they_judge():
    graph = _graph()
    assert "payments.operations.engine" in graph
    assert "orders.models" in graph["payments.operations.engine"]
    assert "payments.providers.sandbox.models" in graph["payments.providers.sandbox.gateway"]
    # The cycle finder finds a cycle when there is one.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_orders_never_imports_payments():
    offenders = []
    for name, path in MODULES.items():
        if name.split(".")[0] != "orders":
            continue
        tree = ast.parse(path.read_text())
        offenders += [
            f"{name} imports {target}"
            for target, _node in _imports(tree, name)
            if target.split(".")[0] == "payments"
        ]
    assert offenders == []


def test_providers_import_no_models_but_their_own():
    offenders = []
    for name, path in MODULES.items():
        if not name.startswith("payments.providers"):
            continue
        own = ".".join(name.split(".")[:3])  # payments.providers.<provider>
        tree = ast.parse(path.read_text())
        for target, _node in _imports(tree, name):
            is_models = target.endswith(".models") or ".models." in target
            if is_models and not target.startswith(own + "."):
                offenders.append(f"{name} imports {target}")
    assert offenders == []


def test_no_import_cycle_between_modules():
    assert _cycles(_graph()) == []


def test_no_import_inside_a_function():
    hidden = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        for function in _functions(tree):
            if path.name == "apps.py" and function.name == "ready":
                continue
            hidden += [
                f"{name}:{node.lineno} in {function.name}()"
                for node in ast.walk(function)
                if isinstance(node, ast.Import | ast.ImportFrom)
            ]
    assert hidden == []
