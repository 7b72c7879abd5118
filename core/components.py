"""Named components: configs validated at the edge, lookup by kind and name.

Every component class carries a pydantic ``Config`` model (``extra="forbid"``), so a
mistyped or wrong setting fails before any work with a message naming the component
and the field.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import operator
import sys
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

Kind = Literal["encoder", "extractor", "strategy", "head", "dataset", "item_feature"]
KINDS: tuple[Kind, ...] = ("encoder", "extractor", "strategy", "head", "dataset", "item_feature")

#: The base class (module, name) every component of a kind subclasses.
BASE_CLASSES: dict[str, tuple[str, str]] = {
    "encoder": ("recgraft.encoder", "Encoder"),
    "extractor": ("recgraft.extractor", "FeatureExtractor"),
    "strategy": ("recgraft.strategy", "TransferStrategy"),
    "head": ("recgraft.head", "Head"),
    "dataset": ("recgraft.data.loader", "DatasetLoader"),
    "item_feature": ("recgraft.item_features", "ItemFeature"),
}


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


def component_problem(kind: str, target: object) -> str | None:
    """Why ``target`` cannot be a ``kind`` component, or None: it must be a class that subclasses
    the kind's base class and carries a ``Config`` subclassing the base's.

    The base is looked up among the modules already imported: a subclass has imported its base,
    so an absent base module means no subclass, and checking never imports torch.
    """
    if not isinstance(target, type):
        if inspect.isroutine(target):
            return "a function, not a class"
        what = "a module" if inspect.ismodule(target) else f"a {type(target).__name__} instance"
        return f"{what}, not a class"
    module_name, base_name = BASE_CLASSES[kind]
    base = getattr(sys.modules.get(module_name), base_name, None)
    if not (isinstance(base, type) and issubclass(base, Component) and issubclass(target, base)):
        return f"{target.__qualname__} is not a subclass of {module_name}.{base_name}"
    config, base_config = getattr(target, "Config", None), base.Config
    if not isinstance(config, type) or not issubclass(config, base_config):
        return f"its Config is not a subclass of {base_config.__module__}.{base_config.__qualname__}"
    return None


def import_string_problem(target: str) -> str | None:
    """Why ``target`` is not an import string ``"package.module:ClassName"``, or None."""
    module_name, colon, attr = target.partition(":")
    if colon and attr.isidentifier() and all(part.isidentifier() for part in module_name.split(".")):
        return None
    return f"{target!r} is not an import string 'module:Class'"


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
    #: The installed distribution that provides the plugin ("recgraft" for built-ins), if any.
    distribution: str | None = None
    #: Why the target is no valid component (checked when registered, and when first
    #: imported for an import string); None when it is valid or not imported yet.
    problem: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if isinstance(self.target, str):
            self.problem = import_string_problem(self.target)
        else:
            self.problem = component_problem(self.kind, self.target)

    def load(self) -> type:
        """The component class, importing it first when it was registered as ``"module:Class"``;
        PluginError (one line) when it cannot be imported or is no valid component."""
        if isinstance(self.target, str) and self.problem is None:
            module_name, _, attr = self.target.partition(":")
            try:
                target = getattr(importlib.import_module(module_name), attr)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a plugin's import can fail in any way, sys.exit too
                detail = " ".join(f"{type(exc).__name__}: {exc}".split())
                raise PluginError(
                    f"{self.kind} '{self.name}' from plugin {self.plugin}: cannot import "
                    f"{module_name}:{attr}: {detail}"
                ) from exc
            self.problem = component_problem(self.kind, target)
            if self.problem is None:
                self.target = target
        if self.problem is not None:
            raise PluginError(f"{self.kind} '{self.name}' from plugin {self.plugin} is invalid: {self.problem}")
        return self.target

    @property
    def provenance(self) -> dict[str, str | None]:
        """Which plugin, distribution and version provide it (recorded in checkpoints)."""
        return {"plugin": self.plugin, "distribution": self.distribution, "version": self.version}

    @property
    def status(self) -> str:
        if self.problem is not None:
            return f"error: {self.problem}"
        if self.conflicts:
            return "conflict: also registered by " + ", ".join(self.conflicts)
        return "ok"


class ComponentCatalog:
    """Every component registered by the loaded plugins, by kind and name."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], ComponentEntry] = {}
        #: Entries of other plugins under a taken kind and name: kept (and listed), never used.
        self._rivals: dict[tuple[str, str], list[ComponentEntry]] = {}

    def add(self, entry: ComponentEntry) -> None:
        """Add a component; a second plugin using the same kind and name marks both as
        conflicting, and both stay listed."""
        key = (entry.kind, entry.name)
        existing = self._entries.get(key)
        if existing is None:
            self._entries[key] = entry
        elif existing.plugin != entry.plugin:
            rivals = self._rivals.setdefault(key, [])
            for other in (existing, *rivals):
                other.conflicts.append(entry.plugin)
                entry.conflicts.append(other.plugin)
            rivals.append(entry)
        else:
            existing.target, existing.problem = entry.target, entry.problem

    def rivals(self, kind: str, name: str) -> list[ComponentEntry]:
        """Every entry registered under ``kind`` and ``name``, the first plugin's first."""
        first = self._entries.get((kind, name))
        return [first, *self._rivals.get((kind, name), [])] if first is not None else []

    def entries(self, kind: str | None = None) -> list[ComponentEntry]:
        """All entries (of one kind), conflicting ones too, sorted by kind and name."""
        found = [e for e in self._entries.values() if kind is None or e.kind == kind]
        found += [e for rivals in self._rivals.values() for e in rivals if kind is None or e.kind == kind]
        return sorted(found, key=lambda e: (KINDS.index(e.kind), e.name))

    def names(self, kind: str) -> list[str]:
        return sorted({e.name for e in self.entries(kind)})

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
            raise DuplicateComponentError(self.clash(kind, name))
        return found

    def clash(self, kind: str, name: str) -> str:
        """What is wrong when two plugins register ``kind`` and ``name``, and the fix: the plugins
        (with their distributions) and the one to disable in plugins.toml."""
        rivals = self.rivals(kind, name)
        plugins = " and ".join(_described(e) for e in rivals)
        return (f"{kind} '{name}' is registered by both {plugins}; disable one in plugins.toml "
                f'([plugins] disable = ["{rivals[0].conflicts[0]}"])')

    def clashes(self) -> list[str]:
        """:meth:`clash` for every kind and name two plugins register, sorted by kind and name."""
        taken = [(e.kind, e.name) for e in self.entries() if e.conflicts]
        return [self.clash(kind, name) for kind, name in dict.fromkeys(taken)]

    def name_of(self, kind: str, component: object) -> str:
        """The name ``component``'s class is registered under (its class name when it is not),
        so that instances passed in place of names are recorded by a name that loads again."""
        for entry in self.entries(kind):
            if not entry.conflicts and entry.problem is None and entry.target is type(component):
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

    def build(self, kind: str, name: str, values: Mapping[str, Any] | BaseModel | None = None, *args: Any) -> Any:
        """The one way to make a component by name: ``cls(config, *args)``, the config validated
        first (``args``: what the kind's constructor takes after it, e.g. an encoder's item count)."""
        return self.get(kind, name)(self.config(kind, name, values), *args)


def _described(entry: ComponentEntry) -> str:
    """A plugin by name, with its distribution and version when it has one."""
    if entry.distribution and entry.source != "builtin":
        return f"{entry.plugin} ({entry.distribution} {entry.version or ''})".replace(" )", ")")
    return entry.plugin
