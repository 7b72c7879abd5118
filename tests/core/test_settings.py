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


def test_plugins_toml_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "plugins.toml"
    path.write_bytes(b'[plugins]\ndisable = ["caf\xe9"]\n')
    with pytest.raises(ConfigError, match=r"plugins\.toml: not UTF-8 text"):
        load_settings(path)


def test_unreadable_plugins_toml_is_a_config_error(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "plugins.toml"
    path.write_text("[plugins]\n")

    def denied(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(ConfigError, match="plugins.toml: cannot read: Permission denied"):
        load_settings(path)


def test_every_default_component_setting_has_a_description() -> None:
    from recgraft.settings import Defaults

    assert [name for name, info in Defaults.model_fields.items() if not (info.description or "").strip()] == []
