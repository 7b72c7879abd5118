"""Run settings from a config file (TOML or JSON) and ``--set key=value`` overrides.

A file holds an ``[encoder]`` table (the encoder's Config fields) and a ``[train]`` table
(TrainConfig fields). ``--set section.key=value`` sets one field; a bare ``key`` goes to the
section that has such a field. Values are parsed as JSON when they can be (numbers,
booleans, lists), else kept as text. Validation happens later, against the models.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from recgraft.errors import ConfigError

SECTIONS = ("encoder", "train")


def read_config_file(path: Path) -> dict[str, dict[str, Any]]:
    """The sections of a TOML or JSON config file."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}") from None
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(sorted(unknown))} (expected: {', '.join(SECTIONS)})")
    return {section: dict(raw.get(section, {})) for section in SECTIONS}


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
            if len(owners) != 1:
                where = "no" if not owners else "several"
                raise ConfigError(f"--set {key}: {where} section has that field; write section.{key} ({', '.join(models)})")
            section, field = owners[0], key
        if section not in models:
            raise ConfigError(f"--set {key}: unknown section {section!r} (expected: {', '.join(models)})")
        sections.setdefault(section, {})[field] = value
    return sections
