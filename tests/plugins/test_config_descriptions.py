"""Every setting of every built-in component says what it does, and ``plugins show`` prints it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from recgraft import plugin_manager
from recgraft.cli import build_cli
from recgraft.components import ComponentEntry
from recgraft.plugin_manager import catalog
from recgraft.settings import Settings


def builtins() -> list[ComponentEntry]:
    """The built-in components (loaded with no plugins.toml, then forgotten again)."""
    entries = [e for e in plugin_manager.load_plugins(Settings()).catalog.entries() if e.source == "builtin"]
    plugin_manager.reset()
    return entries


BUILTINS = [pytest.param(entry.kind, entry.name, id=f"{entry.kind}-{entry.name}") for entry in builtins()]


@pytest.mark.parametrize(("kind", "name"), BUILTINS)
def test_every_setting_of_a_builtin_component_has_a_description(kind: str, name: str) -> None:
    config = catalog().get(kind, name).Config
    missing = [field for field, info in config.model_fields.items() if not (info.description or "").strip()]
    assert not missing, f"{kind} '{name}': no description for {', '.join(missing)}"


@pytest.mark.parametrize(("kind", "name"), BUILTINS)
def test_plugins_show_prints_each_settings_description(kind: str, name: str) -> None:
    result = CliRunner().invoke(build_cli(), ["plugins", "show", name, "--kind", kind])
    assert result.exit_code == 0, result.output
    for field, info in catalog().get(kind, name).Config.model_fields.items():
        line = next(line for line in result.output.splitlines() if line.startswith(f"{field} "))
        assert line.endswith(str(info.description)), line
