"""plugins.toml parsing and lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from recgraft.errors import ConfigError
from recgraft.settings import find_settings_file, load_settings


def test_no_plugins_toml_anywhere_gives_defaults() -> None:
    assert find_settings_file() is None
    assert load_settings().defaults.encoder == "transformer"


def test_plugins_toml_in_the_working_folder_is_used(tmp_path: Path) -> None:
    Path("plugins.toml").write_text('[defaults]\nencoder = "lstm"\n')
    assert load_settings().defaults.encoder == "lstm"


def test_unknown_key_in_plugins_toml_is_a_config_error(plugins_toml) -> None:
    plugins_toml('[defaults]\nencodr = "lstm"\n')
    with pytest.raises(ConfigError, match=r"plugins.toml: defaults.encodr"):
        load_settings()


def test_invalid_toml_is_a_config_error(plugins_toml) -> None:
    plugins_toml("[plugins\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()


def test_plugins_toml_that_is_not_utf8_is_a_config_error(plugins_toml) -> None:
    path = plugins_toml("")
    path.write_bytes(b"[defaults]\nencoder = \"caf\xe9\"\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()
