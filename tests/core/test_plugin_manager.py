"""The plugin manager: built-ins, entry points, plugins.toml, allow-list, failures, duplicates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recgraft import plugin_manager
from recgraft.errors import DuplicateComponentError, PluginError

FIXTURES = Path(__file__).parents[1] / "plugins"


def plugin(system: plugin_manager.PluginSystem, name: str) -> plugin_manager.PluginInfo:
    return next(p for p in system.plugins if p.name == name)


def test_load_plugins_is_idempotent() -> None:
    assert plugin_manager.load_plugins() is plugin_manager.load_plugins()


def test_builtin_plugins_load_without_errors() -> None:
    system = plugin_manager.load_plugins()
    builtins = [p for p in system.plugins if p.source == "builtin"]
    assert [p.name for p in builtins] == list(plugin_manager.DEFAULT_PLUGINS)
    assert all(p.status == "ok" for p in builtins), [p.error for p in builtins]


def test_extra_path_from_plugins_toml_registers_components(plugins_toml) -> None:
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "toy_plugin.py"}"]\n')
    catalog = plugin_manager.catalog()
    assert catalog.get("head", "toy").__name__ == "ToyHead"
    assert catalog.entry("head", "toy").source == "local"


def test_relative_path_in_plugins_toml_is_relative_to_the_file(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "mine.py").write_text((FIXTURES / "toy_plugin.py").read_text())
    (folder / "plugins.toml").write_text('[plugins]\npaths = ["mine.py"]\n')
    monkeypatch.setenv("RECGRAFT_PLUGINS_TOML", str(folder / "plugins.toml"))
    assert "toy" in plugin_manager.load_plugins(reload=True).catalog.names("head")


def test_extra_module_from_plugins_toml(plugins_toml, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    plugins_toml('[plugins]\nmodules = ["toy_plugin"]\n')
    assert plugin_manager.catalog().entry("head", "toy").plugin == "toy_plugin"


def test_disabled_plugin_is_not_loaded(plugins_toml) -> None:
    plugins_toml(
        f'[plugins]\npaths = ["{FIXTURES / "toy_plugin.py"}"]\ndisable = ["toy_plugin"]\n'
    )
    system = plugin_manager.load_plugins()
    assert plugin(system, "toy_plugin").status == "disabled"
    assert "toy" not in system.catalog.names("head")


def test_allow_list_skips_third_party_plugins_not_named(plugins_toml, monkeypatch) -> None:
    monkeypatch.setenv("RECGRAFT_LOAD_PLUGINS", "someone_else")
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "toy_plugin.py"}"]\n')
    system = plugin_manager.load_plugins()
    assert plugin(system, "toy_plugin").status == "not allowed"
    assert all(p.status == "ok" for p in system.plugins if p.source == "builtin")


def test_allow_list_loads_the_plugins_it_names(plugins_toml, monkeypatch) -> None:
    monkeypatch.setenv("RECGRAFT_LOAD_PLUGINS", "toy_plugin")
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "toy_plugin.py"}"]\n')
    assert "toy" in plugin_manager.catalog().names("head")


def test_plugin_that_fails_to_import_is_reported_and_the_rest_load(plugins_toml) -> None:
    plugins_toml(
        f'[plugins]\npaths = ["{FIXTURES / "broken_import.py"}", "{FIXTURES / "toy_plugin.py"}"]\n'
    )
    system = plugin_manager.load_plugins()
    broken = plugin(system, "broken_import")
    assert broken.status == "error"
    assert "broken on purpose" in (broken.error or "")
    assert "toy" in system.catalog.names("head")


def test_plugin_that_fails_to_register_is_reported(plugins_toml) -> None:
    plugins_toml(
        f'[plugins]\npaths = ["{FIXTURES / "failing_register.py"}", "{FIXTURES / "toy_plugin.py"}"]\n'
    )
    system = plugin_manager.load_plugins()
    failing = plugin(system, "failing_register")
    assert failing.status == "error"
    assert "registration failed on purpose" in (failing.error or "")
    assert "toy" in system.catalog.names("head")


def test_two_plugins_registering_one_name_is_an_error_naming_both(plugins_toml) -> None:
    plugins_toml(
        f'[plugins]\npaths = ["{FIXTURES / "toy_plugin.py"}", "{FIXTURES / "duplicate_toy.py"}"]\n'
    )
    with pytest.raises(DuplicateComponentError, match="toy_plugin and duplicate_toy"):
        plugin_manager.catalog().get("head", "toy")


def test_a_name_clash_keeps_both_plugins_listed_and_its_error_says_how_to_fix_it(plugins_toml) -> None:
    plugins_toml(
        f'[plugins]\npaths = ["{FIXTURES / "toy_plugin.py"}", "{FIXTURES / "duplicate_toy.py"}"]\n'
    )
    toys = [e for e in plugin_manager.catalog().entries("head") if e.name == "toy"]
    assert [(e.plugin, e.status) for e in toys] == [
        ("toy_plugin", "conflict: also registered by duplicate_toy"),
        ("duplicate_toy", "conflict: also registered by toy_plugin"),
    ]
    assert plugin_manager.catalog().names("head").count("toy") == 1
    with pytest.raises(DuplicateComponentError, match='disable one in plugins.toml \\(\\[plugins\\] disable = \\["duplicate_toy"\\]\\)'):
        plugin_manager.catalog().get("head", "toy")


def test_trace_writes_hook_calls_to_stderr(plugins_toml, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RECGRAFT_TRACE_PLUGINS", "1")
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "toy_plugin.py"}"]\n')
    plugin_manager.load_plugins()
    assert "register_heads" in capsys.readouterr().err


@pytest.fixture(scope="module")
def toy_distribution(tmp_path_factory) -> Path:
    """The toy plugin distribution, really built and installed (with its entry point) into a folder."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(FIXTURES / "toy_dist")],
        check=True,
        capture_output=True,
    )
    return target


def run_recgraft(args: list[str], site: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "recgraft", *args], capture_output=True, text=True, env=env, cwd=cwd
    )


def test_installed_distribution_is_found_through_its_entry_point(toy_distribution, tmp_path) -> None:
    result = run_recgraft(["plugins", "list", "--json"], toy_distribution, tmp_path)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    toy = next(c for c in payload["components"] if c["name"] == "toy-strategy")
    assert toy == {
        "name": "toy-strategy",
        "kind": "strategy",
        "plugin": "toy_dist",
        "source": "entry point",
        "version": "0.3.1",
        "status": "ok",
    }


def test_requirements_lists_installed_plugin_distributions(toy_distribution, tmp_path) -> None:
    result = run_recgraft(["plugins", "list", "--requirements"], toy_distribution, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["recgraft-toy==0.3.1"]


def test_plugin_that_calls_sys_exit_at_import_is_reported_and_the_rest_load(plugins_toml) -> None:
    plugins_toml(
        f'[plugins]\npaths = ["{FIXTURES / "exits_at_import.py"}", "{FIXTURES / "toy_plugin.py"}"]\n'
    )
    system = plugin_manager.load_plugins()
    exiting = plugin(system, "exits_at_import")
    assert exiting.status == "error" and "SystemExit: 3" in (exiting.error or "")
    assert "toy" in system.catalog.names("head")


def test_base_exception_in_a_register_hook_is_a_plugin_failure(plugins_toml) -> None:
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "exits_in_hooks.py"}"]\n')
    failing = plugin(plugin_manager.load_plugins(), "exits_in_hooks")
    assert failing.status == "error" and "SystemExit: 4" in (failing.error or "")


def test_keyboard_interrupt_in_a_plugin_still_interrupts(plugins_toml, tmp_path: Path) -> None:
    path = tmp_path / "interrupts.py"
    path.write_text("raise KeyboardInterrupt\n")
    plugins_toml(f'[plugins]\npaths = ["{path}"]\n')
    with pytest.raises(KeyboardInterrupt):
        plugin_manager.load_plugins()


def test_plugin_that_fails_to_register_leaves_no_components(plugins_toml, tmp_path: Path) -> None:
    path = tmp_path / "half_registers.py"
    path.write_text(
        "from recgraft import hookimpl\n"
        "from recgraft.plugins.heads.dot import DotHead\n"
        "@hookimpl\n"
        "def register_heads(register):\n"
        "    register('half', DotHead)\n"
        "    raise RuntimeError('then fails')\n"
    )
    plugins_toml(f'[plugins]\npaths = ["{path}"]\n')
    system = plugin_manager.load_plugins()
    assert plugin(system, "half_registers").status == "error"
    assert "half" not in system.catalog.names("head")
    assert not system.manager.has_plugin("half_registers")


INVALID = {
    "function-encoder": "a function, not a class",
    "instance-encoder": "a NotAnEncoder instance, not a class",
    "wrong-base-encoder": "NotAnEncoder is not a subclass of recgraft.encoder.Encoder",
    "bad-config-encoder": "its Config is not a subclass of recgraft.encoder.EncoderConfig",
    "none-config-encoder": "its Config is not a subclass of recgraft.encoder.EncoderConfig",
    "malformed-string-encoder": "'invalid_components.make_encoder' is not an import string 'module:Class'",
}


@pytest.fixture
def invalid_components(plugins_toml, monkeypatch) -> plugin_manager.PluginSystem:
    monkeypatch.syspath_prepend(str(FIXTURES))
    plugins_toml('[plugins]\nmodules = ["invalid_components"]\n')
    return plugin_manager.load_plugins()


@pytest.mark.parametrize(("name", "problem"), INVALID.items())
def test_component_that_is_not_a_valid_class_is_reported_at_registration(
    invalid_components, name: str, problem: str
) -> None:
    entry = invalid_components.catalog.entries("encoder")
    assert next(e for e in entry if e.name == name).status == f"error: {problem}"


@pytest.mark.parametrize(("name", "problem"), INVALID.items())
def test_invalid_component_is_a_one_line_plugin_error_at_use(
    invalid_components, name: str, problem: str
) -> None:
    with pytest.raises(PluginError) as raised:
        invalid_components.catalog.get("encoder", name)
    message = str(raised.value)
    assert message == f"encoder '{name}' from plugin invalid_components is invalid: {problem}"


def test_lazy_component_is_validated_when_first_used(invalid_components) -> None:
    entry = invalid_components.catalog.entry("encoder", "lazy-function-encoder")
    assert entry.status == "ok"  # not imported yet
    with pytest.raises(PluginError, match="lazy-function-encoder.*is invalid: a function, not a class"):
        invalid_components.catalog.get("encoder", "lazy-function-encoder")
    assert entry.status == "error: a function, not a class"


def test_valid_components_beside_invalid_ones_still_work(invalid_components) -> None:
    assert plugin(invalid_components, "invalid_components").status == "ok"
    assert invalid_components.catalog.get("head", "fine").__name__ == "FineHead"
    assert invalid_components.catalog.get("head", "lazy-fine").__name__ == "FineHead"


def test_every_builtin_component_is_a_valid_class() -> None:
    catalog = plugin_manager.catalog()
    for entry in catalog.entries():
        catalog.get(entry.kind, entry.name)
        assert entry.status == "ok", (entry.kind, entry.name, entry.status)


def test_example_third_party_plugin_components_are_valid(plugins_toml, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parents[2] / "examples" / "recgraft-bagofitems"))
    plugins_toml('[plugins]\nmodules = ["recgraft_bagofitems"]\n')
    catalog = plugin_manager.catalog()
    assert catalog.get("encoder", "bag").__name__ == "BagOfItemsEncoder"
    assert catalog.get("strategy", "embeddings-only").__name__ == "EmbeddingsOnlyStrategy"
    assert {e.status for e in catalog.entries()} == {"ok"}


def test_a_second_plugin_of_a_taken_name_is_an_error_naming_both_and_the_fix(plugins_toml, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "toy_plugin.py"
    other.parent.mkdir()
    other.write_text((FIXTURES / "duplicate_toy.py").read_text())
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "toy_plugin.py"}", "{other}"]\n')
    system = plugin_manager.load_plugins()
    first, second = (p for p in system.plugins if p.name == "toy_plugin")
    assert first.status == "ok" and second.status == "error"
    assert second.error == (f"a plugin named toy_plugin is already loaded (from {FIXTURES / 'toy_plugin.py'}), "
                            f"so this one (from {other}) is not: rename one (its entry point or module) or "
                            "uninstall one")
