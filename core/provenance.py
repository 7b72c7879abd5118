"""Which plugin, distribution and version provide each component of a checkpoint.

Written with every component's name and config (``components.<role>``: ``plugin``,
``distribution`` and ``version``; built-ins record the distribution ``recgraft``), and
checked before a checkpoint's model is built: a component no loaded plugin provides is a
one-line :class:`~recgraft.errors.MissingPluginError` naming the distribution to install,
a name two plugins register says which of them the checkpoint needs, and an installed
version other than the recorded one logs a warning. Checkpoints written before this was
recorded carry none of it and load as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from recgraft.components import KINDS, ComponentEntry
from recgraft.errors import DuplicateComponentError, MissingPluginError

logger = logging.getLogger(__name__)

#: The keys a component's spec records its provenance under.
PROVENANCE_KEYS = ("plugin", "distribution", "version")


def _provenance(kind: str, name: str) -> dict[str, str | None]:
    """The plugin, distribution and version that provide ``name`` (none when no one plugin does)."""
    from recgraft.plugin_manager import catalog

    providers = catalog().rivals(kind, name)
    return providers[0].provenance if len(providers) == 1 else {}


def component_spec(kind: str, name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """``{"name", "config"}`` of a component for a checkpoint, with the plugin, distribution and
    version that provide it (none when no one plugin registers ``name``: an unregistered instance);
    an encoder's also names the item_feature plugins its item table needs."""
    spec: dict[str, Any] = {"name": name, "config": dict(config), **_provenance(kind, name)}
    features = [f.get("kind") for f in config.get("item_features", []) or [] if isinstance(f, Mapping)]
    if kind == "encoder" and any(features):
        spec["item_features"] = [{"name": f, **_provenance("item_feature", f)} for f in dict.fromkeys(features) if f]
    return spec


def recorded_components(metadata: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind, spec) of each component a checkpoint names, the encoders of the other checkpoints a
    strategy read (``pretrained``) included."""
    components = metadata.get("components")
    if not isinstance(components, dict):
        return
    specs = [(role, spec) for role, spec in components.items() if role in KINDS and isinstance(spec, dict)]
    pretrained = components.get("pretrained")
    if isinstance(pretrained, dict):
        specs += [("encoder", record["encoder"]) for record in pretrained.values()
                  if isinstance(record, dict) and isinstance(record.get("encoder"), dict)]
    for role, spec in specs:
        yield role, spec
        features = spec.get("item_features")  # the item_feature plugins an encoder's item table needs
        for feature in features if isinstance(features, list) else []:
            if isinstance(feature, dict):
                yield "item_feature", feature


def _canonical(name: str | None) -> str | None:
    from recgraft.plugin_manager import canonical_name

    return canonical_name(name) if name else None


def described(spec: Mapping[str, Any]) -> str:
    """Where a recorded component comes from, as messages say it."""
    distribution, version = spec.get("distribution"), spec.get("version")
    if distribution:
        return f"the distribution {distribution}{f' {version}' if version else ''}"
    return f"the local plugin {spec.get('plugin')}"


def _install_hint(spec: Mapping[str, Any]) -> str:
    distribution, version = spec.get("distribution"), spec.get("version")
    if not distribution:
        return "add it to plugins.toml: [plugins] modules = [...] or paths = [...]"
    if _canonical(distribution) == "recgraft":
        return f"pip install recgraft=={version}" if version else "pip install recgraft"
    return f"pip install {distribution}"


def _missing(kind: str, name: str, spec: Mapping[str, Any]) -> MissingPluginError:
    """The error for a recorded component no loaded plugin provides: what to install, or why the
    installed plugin that provides it did not load."""
    from recgraft.plugin_manager import load_plugins

    wanted = _canonical(spec.get("distribution"))
    head = f"unknown {kind} '{name}': this checkpoint needs it from {described(spec)}"
    for info in load_plugins().plugins:
        same = (_canonical(info.distribution) == wanted) if wanted else info.name == spec.get("plugin")
        if not same or info.source == "builtin":
            continue
        if info.status == "disabled":
            return MissingPluginError(f"{head}, installed but its plugin {info.name} is disabled "
                                      f"(remove it from [plugins] disable in plugins.toml)")
        if info.status == "not allowed":
            return MissingPluginError(f"{head}, installed but its plugin {info.name} is not in "
                                      f"RECGRAFT_LOAD_PLUGINS (add it there)")
        if info.status != "ok":
            return MissingPluginError(f"{head}, installed but its plugin {info.name} did not load: {info.error}")
        if info.version and spec.get("version") and info.version != spec.get("version"):
            return MissingPluginError(f"{head}; {info.version} is installed and does not provide it "
                                      f"(pip install {info.distribution}=={spec.get('version')})")
        return MissingPluginError(f"{head}, installed but its plugin {info.name} does not register it")
    return MissingPluginError(f"{head} ({_install_hint(spec)})")


def _clash(kind: str, name: str, spec: Mapping[str, Any], providers: list[ComponentEntry]) -> DuplicateComponentError:
    """The error for a recorded component two plugins register: which one the checkpoint needs."""
    from recgraft.components import _described

    plugins = " and ".join(_described(e) for e in providers)
    wanted = _canonical(spec.get("distribution"))
    needed = [e for e in providers if (_canonical(e.distribution) == wanted if wanted else e.plugin == spec.get("plugin"))]
    others = [e for e in providers if e not in needed[:1]]
    fix = ", ".join(f'"{e.plugin}"' for e in others if e.source != "builtin")
    if needed and fix:
        return DuplicateComponentError(
            f"{kind} '{name}' is registered by both {plugins}; this checkpoint needs it from plugin "
            f"{needed[0].plugin} ({described(spec)}): disable the other in plugins.toml ([plugins] disable = [{fix}])"
        )
    if needed:  # the other is a built-in: disabling its module would drop every built-in of the kind
        return DuplicateComponentError(
            f"{kind} '{name}' is registered by both {plugins}; this checkpoint needs it from plugin "
            f"{needed[0].plugin} ({described(spec)}), whose name clashes with a built-in: the plugin "
            f"must register it under another name"
        )
    return DuplicateComponentError(
        f"{kind} '{name}' is registered by both {plugins}; this checkpoint needs it from {described(spec)}, "
        f"which provides neither ({_install_hint(spec)}, and disable the others in plugins.toml)"
    )


def check_components(metadata: Mapping[str, Any]) -> None:
    """Before a checkpoint's model is built: every component it records is provided by exactly one
    loaded plugin (MissingPluginError or DuplicateComponentError otherwise, naming the plugin and
    distribution it needs); a version or distribution other than the recorded one logs a warning.
    Components recorded without provenance (older checkpoints) are left to the catalogue."""
    from recgraft.plugin_manager import catalog

    for kind, spec in recorded_components(metadata):
        name = spec.get("name")
        if not isinstance(name, str) or not any(key in spec for key in PROVENANCE_KEYS):
            continue
        providers = catalog().rivals(kind, name)
        if not providers:
            raise _missing(kind, name, spec)
        if len(providers) > 1:
            raise _clash(kind, name, spec, providers)
        _warn_if_changed(kind, name, spec, providers[0])


def _warn_if_changed(kind: str, name: str, spec: Mapping[str, Any], entry: ComponentEntry) -> None:
    recorded, version = spec.get("distribution"), spec.get("version")
    if _canonical(entry.distribution) != _canonical(recorded):
        now = f"the distribution {entry.distribution}" if entry.distribution else f"the local plugin {entry.plugin}"
        logger.warning("%s '%s': this checkpoint was written with it from %s, it now comes from %s%s",
                       kind, name, described(spec), now, f" {entry.version}" if entry.version else "")
    elif version != entry.version:
        logger.warning("%s '%s': this checkpoint was written with %s %s, %s is installed",
                       kind, name, recorded or entry.plugin, version, entry.version)
