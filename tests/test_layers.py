"""The layout's import rules (docs/architecture.md, "What may import what"), read from the
source: the core knows no app, the apps depend one way, reads never import writes, and no
module-level import cycle joins modules of different layers."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ("ioc", "cameras", "services", "dashboards")
# Modules of ioc/ that wire the project together and so may name the apps.
IOC_WIRING = (
    "ioc.settings",
    "ioc.urls",
    "ioc.asgi",
    "ioc.wsgi",
    "ioc.celery",
    "ioc.embedded",
    "ioc.warmup",
    "ioc.context_processors",
    "ioc.demo",
    "ioc.management",
)


def project_modules() -> dict[str, Path]:
    """Every module of the apps by dotted name (migrations left out: they are history)."""
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = project_modules()


def imports(name: str, *, top_level_only: bool) -> Iterator[str]:
    """The project modules ``name`` imports (``from a import b`` counts as ``a.b`` when
    that is a module); ``top_level_only``: what runs at import time, not inside functions
    or ``if TYPE_CHECKING`` blocks."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in APPS:
                yield target


def app_of(module: str) -> str:
    return module.split(".")[0]


def test_the_core_imports_no_app_except_its_wiring() -> None:
    offenders = {
        (name, target)
        for name in MODULES
        if app_of(name) == "ioc" and not name.startswith(IOC_WIRING)
        for target in imports(name, top_level_only=False)
        if app_of(target) != "ioc"
    }
    assert offenders == set()


@pytest.mark.parametrize(
    ("app", "forbidden"),
    [("cameras", {"services", "dashboards"}), ("services", {"dashboards"})],
)
def test_apps_depend_one_way(app: str, forbidden: set[str]) -> None:
    offenders = {
        (name, target)
        for name in MODULES
        if app_of(name) == app
        for target in imports(name, top_level_only=False)
        if app_of(target) in forbidden
    }
    assert offenders == set()


def is_write_module(module: str) -> bool:
    """A service module: ``<app>.services`` or anything under it."""
    parts = module.split(".")
    return len(parts) >= 2 and parts[1] == "services"


def is_read_module(module: str) -> bool:
    """A selector module: ``selectors``, ``*_selectors`` or anything under a selectors
    package."""
    return any(part == "selectors" or part.endswith("_selectors") for part in module.split("."))


def test_no_selector_imports_a_service_module() -> None:
    offenders = {
        (name, target)
        for name in MODULES
        if is_read_module(name)
        for target in imports(name, top_level_only=False)
        if is_write_module(target)
    }
    assert offenders == set()


def layer_of(module: str) -> str:
    """The layer a module belongs to, by the house skeleton's names."""
    last = module.split(".")[1:] or ["package"]
    for layer in ("tasks", "services", "selectors", "models", "consumers"):
        if layer in last or any(part.endswith(f"_{layer}") for part in last):
            return layer
    return "other"


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_level_import_cycle_crosses_layers() -> None:
    graph = {
        name: {t for t in imports(name, top_level_only=True) if t in MODULES and t != name}
        for name in MODULES
    }
    crossing = [
        sorted(component)
        for component in strongly_connected(graph)
        if len({layer_of(module) for module in component}) > 1
    ]
    assert crossing == []


def test_services_queue_tasks_without_importing_them_at_module_level() -> None:
    offenders = {
        (name, target)
        for name in MODULES
        if is_write_module(name)
        for target in imports(name, top_level_only=True)
        if layer_of(target) == "tasks"
    }
    assert offenders == set()
