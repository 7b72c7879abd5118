"""The layers of docs/architecture.md hold: no import cycles, no import upward.

Imports are read from the source (``import`` and ``from ... import``, those under
``TYPE_CHECKING`` and inside functions included), so a lazy import cannot hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = {"core": "recgraft", "plugins": "recgraft.plugins", "registry": "recgraft.registry"}

#: Layer of each module (by longest matching prefix); a module may import its own layer and below.
LAYERS: dict[str, int] = {
    # 0: foundation: errors, settings, the component catalogue, data, the registry
    "recgraft": 0, "recgraft.errors": 0, "recgraft.components": 0, "recgraft.hookspecs": 0,
    "recgraft.settings": 0, "recgraft.plugin_manager": 0, "recgraft.provenance": 0, "recgraft.data": 0,
    "recgraft.registry": 0,
    # 1: the training engine
    "recgraft.engine": 1, "recgraft.distributed": 1,
    # 2: the plugin contracts (base classes), and the two modules kept for older plugins
    "recgraft.losses": 2, "recgraft.objective": 2, "recgraft.encoder": 2, "recgraft.item_features": 2,
    "recgraft.extractor": 2,
    "recgraft.head": 2, "recgraft.transfer_model": 2, "recgraft.strategy": 2,
    "recgraft.training": 2, "recgraft.batching": 2,
    # 3: checkpoints: the file format, and bytes back to modules
    "recgraft.checkpoint": 3,
    # 4: pipelines
    "recgraft.pretrain": 4, "recgraft.transfer": 4, "recgraft.recommender": 4, "recgraft.export": 4,
    "recgraft.demo": 4, "recgraft.run_config": 4,
    # 5: what users run: the CLI, the HTTP service, the plugin author's test kit
    "recgraft.cli": 5, "recgraft.serve": 5, "recgraft.testing": 5, "recgraft.__main__": 5,
    # built-in plugins use the public plugin API (layers 0-2), exactly as a third-party one does
    "recgraft.plugins": 2,
}


def _modules() -> dict[str, Path]:
    modules = {}
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts if p != "__init__"]
            modules[".".join([package, *parts])] = path
    return modules


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module ``name`` is, or is in (an imported attribute's module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(name: str, path: Path) -> set[str]:
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:  # a submodule if there is one, else the module the name is in
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {owner for target in found if target.startswith("recgraft")
            if (owner := _owner(target)) is not None and owner != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(name: str) -> int:
    key = max((prefix for prefix in LAYERS if name == prefix or name.startswith(prefix + ".")), key=len)
    return LAYERS[key]


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in GRAPH[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
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

    for node in GRAPH:
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer() -> None:
    assert all(_layer(name) >= 0 for name in MODULES)


def test_there_are_no_import_cycles() -> None:
    assert _cycles() == []


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = sorted(f"{name} (layer {_layer(name)}) imports {other} (layer {_layer(other)})"
                    for name, imported in GRAPH.items() for other in imported if _layer(other) > _layer(name))
    assert upward == []


def test_the_registry_imports_nothing_from_the_rest_of_recgraft() -> None:
    outside = sorted(f"{name} imports {other}" for name, imported in GRAPH.items()
                     if name.startswith("recgraft.registry") for other in imported
                     if not other.startswith("recgraft.registry") and other != "recgraft.errors")
    assert outside == []


def test_the_engine_imports_no_plugin_contract_registry_or_pipeline() -> None:
    # Resume files are replaced atomically by the registry's file writer, the one in recgraft.
    allowed = ("recgraft.engine", "recgraft.distributed", "recgraft.components", "recgraft.data",
               "recgraft.errors", "recgraft.registry.files")
    outside = sorted(f"{name} imports {other}" for name, imported in GRAPH.items()
                     if _layer(name) == 1 for other in imported
                     if not any(other == a or other.startswith(a + ".") for a in allowed))
    assert outside == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("recgraft.plugins")))
def test_a_built_in_plugin_imports_only_the_public_plugin_api(name: str) -> None:
    assert {other for other in GRAPH[name] if _layer(other) > 2} == set()
