"""``plugins.toml``: which plugins load, extra local plugin modules, default component names.

Looked up in ``$RECGRAFT_PLUGINS_TOML``, then ``./plugins.toml``, then
``$RECGRAFT_HOME/plugins.toml``; none at all is fine. Relative paths in it are taken
relative to the file itself.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recgraft.errors import ConfigError


def recgraft_home() -> Path:
    """The folder for the default registry, checkpoints and settings (``$RECGRAFT_HOME``)."""
    return Path(os.environ.get("RECGRAFT_HOME", Path.home() / ".recgraft")).expanduser()


class PluginSources(BaseModel):
    """The ``[plugins]`` table."""

    model_config = ConfigDict(extra="forbid")

    disable: list[str] = Field(default_factory=list, description="plugin names not to load")
    modules: list[str] = Field(default_factory=list, description="importable modules to load as plugins")
    paths: list[Path] = Field(default_factory=list, description=".py files to load as plugins")


class Defaults(BaseModel):
    """The ``[defaults]`` table: component names used when a command does not name one."""

    model_config = ConfigDict(extra="forbid")

    encoder: str = Field(default="transformer", description="the encoder recgraft pretrain uses without --encoder")
    extractor: str = Field(default="global", description="the extractor a transfer uses when none is named")
    strategy: str = Field(default="finetune", description="the strategy a transfer uses when none is named")
    head: str = Field(default="dot", description="the head a transfer uses when none is named")


class Settings(BaseModel):
    """The whole of ``plugins.toml``."""

    model_config = ConfigDict(extra="forbid")

    plugins: PluginSources = Field(default_factory=PluginSources)
    defaults: Defaults = Field(default_factory=Defaults)
    source: Path | None = Field(default=None, exclude=True)


def find_settings_file() -> Path | None:
    """The ``plugins.toml`` in force, or None."""
    explicit = os.environ.get("RECGRAFT_PLUGINS_TOML")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"RECGRAFT_PLUGINS_TOML points to {path}, which is not a file")
        return path
    for candidate in (Path.cwd() / "plugins.toml", recgraft_home() / "plugins.toml"):
        if candidate.is_file():
            return candidate
    return None


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate a ``plugins.toml`` (the one in force when ``path`` is None)."""
    path = path if path is not None else find_settings_file()
    if path is None:
        return Settings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        settings = Settings.model_validate(raw)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
    base = path.parent
    settings.plugins.paths = [p if p.is_absolute() else base / p for p in settings.plugins.paths]
    settings.source = path
    return settings
