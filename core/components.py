"""Named components: configs validated at the edge, lookup by kind and name.

Every component class carries a pydantic ``Config`` model (``extra="forbid"``), so a
mistyped or wrong setting fails before any work with a message naming the component
and the field.
"""

from __future__ import annotations

import difflib
import importlib
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from recgraft.errors import ConfigError, DuplicateComponentError, PluginError, UnknownComponentError

M = TypeVar("M", bound=BaseModel)

#: Upper bounds of the built-in components' size settings: large enough for any real run,
#: small enough that a typo (``embedding_dim=1000000000``) fails at validation, not in malloc.
MAX_DIM = 16_384  # embedding and hidden sizes
MAX_LENGTH = 10_000  # history positions
MAX_LAYERS = 64
MAX_BATCH = 65_536  # batch sizes, sampled negatives, scoring chunks
MAX_COUNT = 100_000  # epochs and other counts of steps
MAX_SEED = 2**63 - 1  # the largest seed torch, numpy and the registry's integers all take

Kind = Literal["encoder", "extractor", "strategy", "head", "dataset"]
KINDS: tuple[Kind, ...] = ("encoder", "extractor", "strategy", "head", "dataset")


def check_seed(seed: int) -> int:
    """``seed`` when torch and numpy both take it (an int in 0..MAX_SEED); ConfigError otherwise."""
    try:
        value = operator.index(seed)  # ints and numpy integers
    except TypeError:
        value = -1
    if isinstance(seed, bool) or not 0 <= value <= MAX_SEED:
        raise ConfigError(f"seed must be an integer from 0 to 2**63-1, got {seed!r}")
    return value


class ComponentConfig(BaseModel):
    """Base of every component's ``Config``: unknown fields are errors, not silently ignored, and
    float fields take finite numbers only (a nan or inf setting would train, then fail to register)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), allow_inf_nan=False)


class Component:
    """Mixin for every component class: it names its ``Config`` model."""

    Config: ClassVar[type[ComponentConfig]] = ComponentConfig


def parse_model(label: str, model: type[M], values: Mapping[str, Any] | BaseModel | None) -> M:
    """Validate ``values`` against a pydantic model; raise ConfigError naming ``label`` and the field."""
    if isinstance(values, model):
        return values
    if isinstance(values, BaseModel):
        values = values.model_dump()
    try:
        return model.model_validate(dict(values or {}))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "config"
            problems.append(f"{where}: {error['msg']}")
        raise ConfigError(f"{label}: " + "; ".join(problems)) from None


def validate_config(
    kind: str, name: str, component: type, values: Mapping[str, Any] | BaseModel | None
) -> Any:
    """Validate ``values`` against the component's ``Config``; raise ConfigError naming the field."""
    config_model: type[BaseModel] = getattr(component, "Config", ComponentConfig)
    return parse_model(f"{kind} '{name}'", config_model, values)


@dataclass
class ComponentEntry:
    """One registered component: its name and kind, the plugin that provided it, and the class."""

    kind: Kind
    name: str
    plugin: str
    source: str
    version: str | None
    target: Any
    conflicts: list[str] = field(default_factory=list)

    def load(self) -> type:
        """The component class, importing it first when it was registered as ``"module:Class"``."""
        if isinstance(self.target, str):
            module_name, _, attr = self.target.partition(":")
            try:
                self.target = getattr(importlib.import_module(module_name), attr)
            except Exception as exc:  # a plugin's import can fail in any way
                raise PluginError(
                    f"{self.kind} '{self.name}' from plugin {self.plugin}: cannot import "
                    f"{module_name}:{attr}: {type(exc).__name__}: {exc}"
                ) from exc
        return self.target

    @property
    def status(self) -> str:
        if self.conflicts:
            return "conflict: also registered by " + ", ".join(self.conflicts)
        return "ok"


class ComponentCatalog:
    """Every component registered by the loaded plugins, by kind and name."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], ComponentEntry] = {}

    def add(self, entry: ComponentEntry) -> None:
        """Add a component; a second plugin using the same kind and name marks both as conflicting."""
        key = (entry.kind, entry.name)
        existing = self._entries.get(key)
        if existing is None:
            self._entries[key] = entry
        elif existing.plugin != entry.plugin:
            existing.conflicts.append(entry.plugin)
        else:
            existing.target = entry.target

    def entries(self, kind: str | None = None) -> list[ComponentEntry]:
        """All entries (of one kind), sorted by kind and name."""
        found = [e for e in self._entries.values() if kind is None or e.kind == kind]
        return sorted(found, key=lambda e: (KINDS.index(e.kind), e.name))

    def names(self, kind: str) -> list[str]:
        return [e.name for e in self.entries(kind)]

    def entry(self, kind: str, name: str) -> ComponentEntry:
        """The entry for ``name``; unknown names get close matches suggested."""
        found = self._entries.get((kind, name))
        if found is None:
            known = self.names(kind)
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            listing = ", ".join(known) if known else "none"
            raise UnknownComponentError(f"unknown {kind} '{name}' (known: {listing}){hint}")
        if found.conflicts:
            plugins = " and ".join([found.plugin, *found.conflicts])
            raise DuplicateComponentError(
                f"{kind} '{name}' is registered by both {plugins}; disable one in plugins.toml"
            )
        return found

    def name_of(self, kind: str, component: object) -> str:
        """The name ``component``'s class is registered under (its class name when it is not),
        so that instances passed in place of names are recorded by a name that loads again."""
        for entry in self.entries(kind):
            if not entry.conflicts and entry.target is type(component):
                return entry.name
        for entry in self.entries(kind):
            try:
                if not entry.conflicts and entry.load() is type(component):
                    return entry.name
            except Exception:  # an unrelated plugin that fails to import
                continue
        return type(component).__name__

    def get(self, kind: str, name: str) -> type:
        """The component class registered as ``name``."""
        return self.entry(kind, name).load()

    def config(self, kind: str, name: str, values: Mapping[str, Any] | BaseModel | None = None) -> Any:
        """Validate ``values`` against that component's Config."""
        return validate_config(kind, name, self.get(kind, name), values)
