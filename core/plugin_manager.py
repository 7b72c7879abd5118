"""The plugin manager: built-ins, entry points in group ``recgraft``, and plugins.toml.

Everything loads once, on the first call of :func:`load_plugins` (no import-time side
effects). A plugin that fails to import or to register (any exception, SystemExit included;
only KeyboardInterrupt propagates) is recorded with its error, contributes nothing, and the
rest load as usual.

Environment:
    RECGRAFT_LOAD_PLUGINS   comma-separated allow-list of third-party plugins (entry points
                            and plugins.toml modules or paths) to load; built-ins always load.
    RECGRAFT_TRACE_PLUGINS  set to 1 to trace every hook call on stderr.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from recgraft import hookspecs
from recgraft.components import KINDS, ComponentCatalog, ComponentEntry, Kind
from recgraft.settings import Settings, load_settings

if TYPE_CHECKING:
    import click

ENTRY_POINT_GROUP = "recgraft"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "recgraft.plugins.datasets",
    "recgraft.plugins.encoders",
    "recgraft.plugins.extractors",
    "recgraft.plugins.heads",
    "recgraft.plugins.item_features",
    "recgraft.plugins.strategies",
)

HOOK_FOR_KIND = {
    "encoder": "register_encoders",
    "extractor": "register_extractors",
    "strategy": "register_strategies",
    "head": "register_heads",
    "dataset": "register_datasets",
    "item_feature": "register_item_features",
}


@dataclass
class PluginInfo:
    """What ``recgraft plugins list`` says of one plugin."""

    name: str
    source: str  # "builtin", "entry point" or "local"
    version: str | None
    status: str = "ok"  # "ok", "disabled", "not allowed", "error" or "conflict" (a command refused)
    error: str | None = None
    components: list[tuple[str, str]] = field(default_factory=list)
    distribution: str | None = None
    #: A local plugin's module or file (plugins.toml), for messages.
    location: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "distribution": self.distribution,
            "components": [{"kind": k, "name": n} for k, n in self.components],
        }


@dataclass
class PluginSystem:
    """The loaded plugin manager, what each plugin provided, and the settings in force."""

    manager: pluggy.PluginManager
    catalog: ComponentCatalog
    plugins: list[PluginInfo]
    settings: Settings


_lock = threading.Lock()
_system: PluginSystem | None = None


def _version() -> str:
    from recgraft import __version__

    return __version__


def _import_path(path: Path) -> ModuleType:
    name = f"recgraft_local_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]  # as ``import`` does: no half-run module stays behind
        raise
    return module


def _one_line(exc: BaseException) -> str:
    """A plugin's exception as one line, whatever its message holds."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _only(manager: pluggy.PluginManager, hook: str, plugin: object) -> Any:
    """A caller of ``hook`` that calls only ``plugin``'s implementation."""
    others = [p for p in manager.get_plugins() if p is not plugin]
    return manager.subset_hook_caller(hook, remove_plugins=others)


def canonical_name(name: str) -> str:
    """A distribution name as pip compares it (PEP 503): case and runs of ``-_.`` do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def plugin_distributions() -> dict[str, str]:
    """The installed distributions that provide recgraft plugins (entry points in group
    ``recgraft``), by canonical name, with their names as published."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and any(ep.group == ENTRY_POINT_GROUP for ep in dist.entry_points):
            found.setdefault(canonical_name(name), name)
    return found


def _allowed() -> set[str] | None:
    raw = os.environ.get("RECGRAFT_LOAD_PLUGINS")
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _candidates(settings: Settings) -> list[tuple[PluginInfo, Any]]:
    """Each plugin to load, with a loader that returns its module or object."""
    found: list[tuple[PluginInfo, Any]] = []
    for module in DEFAULT_PLUGINS:
        found.append((PluginInfo(module, "builtin", _version()), lambda m=module: importlib.import_module(m)))
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        info = PluginInfo(
            ep.name,
            "entry point",
            dist.version if dist is not None else None,
            distribution=dist.metadata["Name"] if dist is not None else None,
        )
        found.append((info, ep.load))
    for module in settings.plugins.modules:
        found.append((PluginInfo(module, "local", None, location=module), lambda m=module: importlib.import_module(m)))
    for path in settings.plugins.paths:
        found.append((PluginInfo(path.stem, "local", None, location=str(path)), lambda p=path: _import_path(p)))
    return found


def _registered_components(manager: pluggy.PluginManager, info: PluginInfo) -> list[ComponentEntry]:
    """Call each of the plugin's register hooks; what they register, once all have returned
    (so a plugin that fails half-way adds nothing). Each entry records its own problem."""
    plugin = manager.get_plugin(info.name)
    distribution = "recgraft" if info.source == "builtin" else info.distribution
    entries: list[ComponentEntry] = []
    for kind in KINDS:

        def register(name: str, target: Any, _kind: Kind = kind) -> None:
            if not isinstance(name, str) or not name or "/" in name or "@" in name:
                raise ValueError(f"invalid {_kind} name {name!r}")
            entries.append(ComponentEntry(_kind, name, info.name, info.source, info.version, target,
                                          distribution=distribution))

        _only(manager, HOOK_FOR_KIND[kind], plugin)(register=register)
    return entries


def _origin(info: PluginInfo) -> str:
    """Where a plugin comes from, as messages say it: its distribution and version, or its source."""
    if info.distribution:
        return f"{info.distribution} {info.version}" if info.version else info.distribution
    if info.location:
        return info.location
    return "recgraft" if info.source == "builtin" else f"an {info.source}"


def _name_taken(info: PluginInfo, infos: list[PluginInfo]) -> str:
    """Why a plugin whose name an earlier one took is not loaded: both, and the fix."""
    first = next(p for p in infos if p.name == info.name and p is not info)
    return (f"a plugin named {info.name} is already loaded (from {_origin(first)}), so this one (from "
            f"{_origin(info)}) is not: rename one (its entry point or module) or uninstall one")


def _load(settings: Settings) -> PluginSystem:
    manager = pluggy.PluginManager("recgraft")
    manager.add_hookspecs(hookspecs)
    if os.environ.get("RECGRAFT_TRACE_PLUGINS"):
        manager.trace.root.setwriter(sys.stderr.write)
        manager.enable_tracing()
    catalog = ComponentCatalog()
    allowed = _allowed()
    disabled = set(settings.plugins.disable)
    infos: list[PluginInfo] = []
    for info, loader in _candidates(settings):
        infos.append(info)
        if info.name in disabled:
            info.status = "disabled"
            manager.set_blocked(info.name)
            continue
        if allowed is not None and info.source != "builtin" and info.name not in allowed:
            info.status = "not allowed"
            continue
        if manager.has_plugin(info.name):
            info.status, info.error = "error", _name_taken(info, infos)
            continue
        try:
            manager.register(loader(), name=info.name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a third-party import can raise anything, sys.exit too
            info.status, info.error = "error", f"failed to load: {_one_line(exc)}"
            continue
        try:
            entries = _registered_components(manager, info)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            manager.unregister(name=info.name)  # no later hook calls into a failed plugin
            info.status, info.error = "error", f"failed to register: {_one_line(exc)}"
            continue
        for entry in entries:
            catalog.add(entry)
            info.components.append((entry.kind, entry.name))
    return PluginSystem(manager, catalog, infos, settings)


def add_commands(system: PluginSystem, cli: click.Group) -> None:
    """Call each loaded plugin's ``register_commands`` on its own, so that one that fails adds
    nothing and the CLI still works. A plugin may add new commands only: one it replaces or
    removes (a built-in, or an earlier plugin's) is put back, and the plugin marked "conflict"."""
    import click

    owners = dict.fromkeys(cli.commands, "built in")
    for info in system.plugins:
        if info.status != "ok":
            continue
        before = dict(cli.commands)
        try:
            _only(system.manager, "register_commands", system.manager.get_plugin(info.name))(cli=cli)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # plugin code: SystemExit and the like too
            cli.commands.clear()
            cli.commands.update(before)
            info.status, info.error = "error", f"failed to add commands: {_one_line(exc)}"
            continue
        kept = sorted(name for name, command in before.items() if cli.commands.get(name) is not command)
        invalid = sorted(
            name for name, command in cli.commands.items()
            if name not in before and not isinstance(command, click.Command)
        )
        for name in invalid:
            del cli.commands[name]
        cli.commands.update({name: before[name] for name in kept})
        owners.update(dict.fromkeys(set(cli.commands) - set(owners), f"from plugin {info.name}"))
        problems = []
        if kept:
            taken = ", ".join(f"'{name}' ({owners[name]})" for name in kept)
            problems.append(f"kept the commands it tried to replace or remove: {taken}")
        if invalid:
            problems.append("dropped what is not a click command: " + ", ".join(f"'{n}'" for n in invalid))
        if problems:
            info.status, info.error = ("error" if invalid else "conflict"), "; ".join(problems)


def load_plugins(settings: Settings | None = None, *, reload: bool = False) -> PluginSystem:
    """Load every plugin once and return the result; later calls return the same system."""
    global _system
    with _lock:
        if _system is None or reload or settings is not None:
            _system = _load(settings if settings is not None else load_settings())
        return _system


def reset() -> None:
    """Forget the loaded plugins, so that the next call of :func:`load_plugins` loads afresh."""
    global _system
    with _lock:
        _system = None


def catalog() -> ComponentCatalog:
    """The components of the loaded plugins."""
    return load_plugins().catalog
