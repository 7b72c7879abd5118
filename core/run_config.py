"""Run settings from a config file (TOML or JSON) and ``--set key=value`` overrides.

A file holds an ``[encoder]`` table (the encoder's Config fields) and a ``[train]`` table
(TrainConfig fields). ``--set section.key=value`` sets one field; a bare ``key`` goes to the
section that has such a field. A key no section has is a ConfigError that suggests the
closest ``section.field`` names (difflib), each of which ``--set`` accepts. Values are parsed as JSON when they can be (numbers,
booleans, lists), else kept as text. Validation happens later, against the models.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from recgraft.errors import ConfigError

SECTIONS = ("encoder", "train")


def read_config_file(path: Path) -> dict[str, dict[str, Any]]:
    """The sections of a TOML or JSON config file: a table of tables (ConfigError otherwise)."""
    kind = "JSON" if path.suffix == ".json" else "TOML"
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if kind == "JSON" else tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        raise ConfigError(f"{path}: not valid {kind}: {' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a table of sections ({', '.join(SECTIONS)}), "
                          f"not {_kind_of(raw)}")
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(sorted(unknown))} (expected: {', '.join(SECTIONS)})")
    for section, values in raw.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: section {section!r} must be a table of settings, not {_kind_of(values)}")
    return {section: dict(raw.get(section, {})) for section in SECTIONS}


def _kind_of(value: object) -> str:
    """What a JSON/TOML value is, for messages: ``a list``, ``a number``, ..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else f"a {type(value).__name__}"


def apply_overrides(
    sections: dict[str, dict[str, Any]], overrides: Iterable[str], models: dict[str, type[BaseModel]]
) -> dict[str, dict[str, Any]]:
    """Apply ``key=value`` overrides; ``models`` names each section's Config model."""
    for item in overrides:
        key, sep, value_text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected key=value")
        try:
            value = json.loads(value_text)
        except ValueError:
            value = value_text
        section, dot, field = key.partition(".")
        if not dot:
            owners = [name for name, model in models.items() if key in model.model_fields]
            if len(owners) > 1:
                choices = " or ".join(f"{owner}.{key}" for owner in owners)
                raise ConfigError(f"--set {key}: several sections have that field; write {choices}")
            if not owners:
                raise ConfigError(f"--set {key}: no section has that field; {_suggest(key, models)}")
            section, field = owners[0], key
        elif section not in models:
            raise ConfigError(f"--set {key}: unknown section {section!r} (expected: {', '.join(models)}); "
                              f"{_suggest(key, models)}")
        elif field not in models[section].model_fields:
            raise ConfigError(f"--set {key}: section {section} has no field {field!r}; {_suggest(key, models)}")
        sections.setdefault(section, {})[field] = value
    return sections


def _suggest(key: str, models: dict[str, type[BaseModel]]) -> str:
    """``did you mean encoder.embedding_dim?``: the ``section.field`` names closest to ``key``
    (bare or dotted), or every name when none is close. Each one names a real field."""
    names = [f"{section}.{field}" for section, model in models.items() for field in model.model_fields]
    field = key.rpartition(".")[2]
    by_field = difflib.get_close_matches(field, [name.partition(".")[2] for name in names], n=3, cutoff=0.7)
    close = [name for name in names if name.partition(".")[2] in by_field]
    close.sort(key=lambda name: by_field.index(name.partition(".")[2]))
    if "." in key:
        close += difflib.get_close_matches(key, names, n=3, cutoff=0.7)
    close = list(dict.fromkeys(close))[:3]
    if close:
        return f"did you mean {' or '.join(close)}?"
    return f"the fields are {', '.join(names)}" if names else "no section has any field"
