"""``recgraft plugins list`` and the top-level command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from recgraft import __version__
from recgraft.cli import build_cli

FIXTURES = Path(__file__).parents[1] / "plugins"


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(build_cli(), ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_plugins_list_json_is_one_json_object() -> None:
    result = CliRunner().invoke(build_cli(), ["plugins", "list", "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert set(payload) == {"components", "plugins", "settings", "conflicts"}


def test_plugins_list_reports_a_broken_plugin_and_exits_zero(plugins_toml) -> None:
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "broken_import.py"}"]\n')
    result = CliRunner().invoke(build_cli(), ["plugins", "list", "--json"])
    assert result.exit_code == 0
    broken = next(p for p in json.loads(result.stdout)["plugins"] if p["name"] == "broken_import")
    assert broken["status"] == "error" and "broken on purpose" in broken["error"]


CLASH_FIX = ("head 'toy' is registered by both toy_plugin and duplicate_toy; disable one in plugins.toml "
             '([plugins] disable = ["duplicate_toy"])')


def clashing_plugins(plugins_toml) -> None:
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "toy_plugin.py"}", "{FIXTURES / "duplicate_toy.py"}"]\n')


def test_plugins_list_table_prints_each_name_clash_with_its_fix(plugins_toml) -> None:
    clashing_plugins(plugins_toml)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(build_cli(), ["plugins", "list"])
    assert result.exit_code == 0
    assert result.output.count("conflict: also registered by") == 2
    assert CLASH_FIX in result.output


def test_plugins_list_json_lists_each_name_clash_with_its_fix(plugins_toml) -> None:
    clashing_plugins(plugins_toml)
    payload = json.loads(CliRunner().invoke(build_cli(), ["plugins", "list", "--json"]).stdout)
    assert payload["conflicts"] == [CLASH_FIX]
    assert [c["plugin"] for c in payload["components"] if c["name"] == "toy"] == ["toy_plugin", "duplicate_toy"]


def test_plugins_show_of_a_clashing_name_prints_its_fix(plugins_toml) -> None:
    clashing_plugins(plugins_toml)
    result = CliRunner().invoke(build_cli(), ["plugins", "show", "toy"])
    assert result.exit_code == 0 and CLASH_FIX in result.output


def test_using_a_clashing_name_is_one_line_naming_both_plugins_and_the_fix(plugins_toml) -> None:
    clashing_plugins(plugins_toml)
    result = CliRunner().invoke(build_cli(), ["transfer", "--from", "src", "--data", "nowhere", "--head", "toy"])
    assert result.exit_code == 2
    assert result.output.strip() == f"Error: {CLASH_FIX}"


def test_plugins_list_table_shows_failed_plugins(plugins_toml) -> None:
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "broken_import.py"}"]\n')
    result = CliRunner().invoke(build_cli(), ["plugins", "list"])
    assert result.exit_code == 0
    assert "broken_import" in result.output


def test_invalid_plugins_toml_is_one_line_and_exit_2(plugins_toml) -> None:
    plugins_toml("[plugins]\nbogus = 1\n")
    result = CliRunner().invoke(build_cli(), ["plugins", "list"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "plugins.bogus" in result.stderr


def test_help_and_plugins_list_do_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from recgraft.cli import build_cli\n"
        "cli = build_cli()\n"
        "for args in (['--help'], ['plugins', 'list', '--json']):\n"
        "    try:\n"
        "        cli.main(args, standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('TORCH', 'torch' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "TORCH False" in result.stderr


def test_plugins_list_runs_as_a_real_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "recgraft", "plugins", "list", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)


def test_a_plugin_adds_a_command_through_register_commands(plugins_toml) -> None:
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "toy_plugin.py"}"]\n')
    result = CliRunner().invoke(build_cli(), ["toy-hello"])
    assert result.exit_code == 0
    assert result.output == "hello from the toy plugin\n"


def plugin_entry(result_stdout: str, name: str) -> dict[str, Any]:
    return next(p for p in json.loads(result_stdout)["plugins"] if p["name"] == name)


def test_plugin_whose_register_commands_raises_is_reported_and_the_cli_works(plugins_toml) -> None:
    plugins_toml(
        f'[plugins]\npaths = ["{FIXTURES / "failing_commands.py"}", "{FIXTURES / "toy_plugin.py"}"]\n'
    )
    cli = build_cli()
    runner = CliRunner()
    version = runner.invoke(cli, ["--version"])
    assert version.exit_code == 0 and __version__ in version.stdout
    assert runner.invoke(cli, ["toy-hello"]).stdout == "hello from the toy plugin\n"
    assert "half-added" not in cli.commands  # nothing of the failed hook stays
    listed = runner.invoke(cli, ["plugins", "list", "--json"])
    assert listed.exit_code == 0
    failing = plugin_entry(listed.stdout, "failing_commands")
    assert failing["status"] == "error"
    assert "commands failed on purpose" in failing["error"]


def test_base_exception_from_a_plugin_does_not_end_the_cli(plugins_toml) -> None:
    plugins_toml(
        f'[plugins]\npaths = ["{FIXTURES / "exits_at_import.py"}", "{FIXTURES / "exits_in_hooks.py"}"]\n'
    )
    cli = build_cli()
    runner = CliRunner()
    assert runner.invoke(cli, ["--version"]).exit_code == 0
    listed = runner.invoke(cli, ["plugins", "list", "--json"])
    assert listed.exit_code == 0
    assert plugin_entry(listed.stdout, "exits_at_import")["status"] == "error"
    assert plugin_entry(listed.stdout, "exits_in_hooks")["status"] == "error"


def test_base_exception_in_register_commands_is_a_plugin_failure(tmp_path: Path, plugins_toml) -> None:
    path = tmp_path / "stops_in_commands.py"
    path.write_text(
        "from recgraft import hookimpl\n"
        "class Stop(BaseException):\n"
        "    pass\n"
        "@hookimpl\n"
        "def register_commands(cli):\n"
        "    raise Stop('stopped on purpose')\n"
    )
    plugins_toml(f'[plugins]\npaths = ["{path}"]\n')
    listed = CliRunner().invoke(build_cli(), ["plugins", "list", "--json"])
    assert listed.exit_code == 0
    stopping = plugin_entry(listed.stdout, "stops_in_commands")
    assert stopping["status"] == "error" and "Stop: stopped on purpose" in stopping["error"]


def test_plugins_toml_that_is_not_utf8_leaves_version_and_help_working(
    tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "plugins.toml"
    path.write_bytes(b'[plugins]\ndisable = ["caf\xe9"]\n')
    monkeypatch.setenv("RECGRAFT_PLUGINS_TOML", str(path))
    cli = build_cli()
    runner = CliRunner()
    assert runner.invoke(cli, ["--version"]).exit_code == 0
    assert runner.invoke(cli, ["--help"]).exit_code == 0
    listed = runner.invoke(cli, ["plugins", "list"])
    assert listed.exit_code == 2
    assert listed.stderr.count("\n") == 1 and "not UTF-8" in listed.stderr


def test_plugin_cannot_replace_or_remove_a_builtin_command(plugins_toml) -> None:
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "overrides_builtin.py"}"]\n')
    cli = build_cli()
    runner = CliRunner()
    registry = runner.invoke(cli, ["registry", "list", "--json"])
    assert registry.exit_code == 0 and "hijacked" not in registry.stdout
    assert json.loads(registry.stdout)["count"] == 0
    assert runner.invoke(cli, ["data", "--help"]).exit_code == 0
    assert runner.invoke(cli, ["override-hello"]).stdout == "hello from overrides_builtin\n"
    listed = runner.invoke(cli, ["plugins", "list", "--json"])
    overriding = plugin_entry(listed.stdout, "overrides_builtin")
    assert overriding["status"] == "conflict"
    assert "'registry'" in overriding["error"] and "'data'" in overriding["error"]
    table = runner.invoke(cli, ["plugins", "list"])
    assert "overrides_builtin" in table.stdout and "registry" in table.stdout


def test_second_plugin_adding_a_taken_command_name_is_refused(tmp_path: Path, plugins_toml) -> None:
    copy = tmp_path / "toy_again.py"
    copy.write_text((FIXTURES / "toy_plugin.py").read_text().replace("hello from", "impostor"))
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "toy_plugin.py"}", "{copy}"]\n')
    cli = build_cli()
    runner = CliRunner()
    assert runner.invoke(cli, ["toy-hello"]).stdout == "hello from the toy plugin\n"
    again = plugin_entry(runner.invoke(cli, ["plugins", "list", "--json"]).stdout, "toy_again")
    assert again["status"] == "conflict" and "toy_plugin" in again["error"]


def test_plugin_putting_a_non_command_in_the_cli_is_reported_and_help_works(
    tmp_path: Path, plugins_toml
) -> None:
    path = tmp_path / "not_a_command.py"
    path.write_text(
        "from recgraft import hookimpl\n"
        "@hookimpl\n"
        "def register_commands(cli):\n"
        "    cli.commands['bogus'] = 'not a command'\n"
    )
    plugins_toml(f'[plugins]\npaths = ["{path}"]\n')
    cli = build_cli()
    runner = CliRunner()
    assert runner.invoke(cli, ["--help"]).exit_code == 0
    entry = plugin_entry(runner.invoke(cli, ["plugins", "list", "--json"]).stdout, "not_a_command")
    assert entry["status"] == "error" and "'bogus'" in entry["error"]


def test_invalid_component_is_listed_with_its_problem_and_fails_in_one_line(
    plugins_toml, monkeypatch
) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    plugins_toml('[plugins]\nmodules = ["invalid_components"]\n')
    cli = build_cli()
    runner = CliRunner()
    listed = runner.invoke(cli, ["plugins", "list", "--json"])
    statuses = {c["name"]: c["status"] for c in json.loads(listed.stdout)["components"]}
    assert statuses["function-encoder"] == "error: a function, not a class"
    assert statuses["fine"] == "ok"
    table = runner.invoke(cli, ["plugins", "list"], env={"COLUMNS": "300"})
    assert "error: a function, not a class" in table.stdout
    used = runner.invoke(cli, ["pretrain", "--data", "nowhere", "--encoder", "function-encoder"])
    assert used.exit_code == 2
    assert used.stderr.count("\n") == 1
    assert "encoder 'function-encoder' from plugin invalid_components is invalid" in used.stderr


def fake_distribution(site: Path, name: str, entry_points: str | None) -> None:
    """A dist-info folder, as pip leaves it, for ``importlib.metadata`` to find on sys.path."""
    info = site / f"{name.replace('-', '_')}-0.2.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.2.0\n")
    if entry_points is not None:
        (info / "entry_points.txt").write_text(entry_points)


@pytest.fixture
def pip_calls(tmp_path: Path, monkeypatch) -> list[tuple[str, ...]]:
    """Installed: a plugin distribution (recgraft-fake) and one without plugins (plain-lib);
    pip itself is replaced by a recorder."""
    site = tmp_path / "site"
    fake_distribution(site, "recgraft-fake", "[recgraft]\nfake = json\n")
    fake_distribution(site, "plain-lib", "[console_scripts]\nplain = json:main\n")
    monkeypatch.syspath_prepend(str(site))
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr("recgraft.cli.plugins._pip", lambda *args: calls.append(args))
    return calls


def test_uninstall_removes_a_plugin_distribution(pip_calls) -> None:
    result = CliRunner().invoke(build_cli(), ["plugins", "uninstall", "Recgraft_Fake"])
    assert result.exit_code == 0, result.output
    assert pip_calls == [("uninstall", "--yes", "Recgraft_Fake")]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("recgraft", "recgraft itself"),
        ("torch", "provides no recgraft plugins"),
        ("plain-lib", "provides no recgraft plugins"),
        ("no-such-dist", "is not installed"),
        ("recgraft-fake==0.2.0", "not a distribution name"),
    ],
)
def test_uninstall_refuses_anything_but_a_plugin_distribution(pip_calls, name: str, why: str) -> None:
    result = CliRunner().invoke(build_cli(), ["plugins", "uninstall", "recgraft-fake", name])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and why in result.stderr and name in result.stderr
    assert pip_calls == []


BROKEN = ("broken_import", "failing_register", "failing_commands", "exits_at_import",
          "exits_in_hooks", "overrides_builtin")


def test_broken_plugins_leave_registry_list_and_verify_working(plugins_toml, checkpoint_bytes) -> None:
    from recgraft.registry import Registry

    with Registry.open() as registry:
        registry.register("pre", checkpoint_bytes(b"pre weights"), domain="ml-1m", encoder="transformer",
                          encoder_config={"d": 8})
    paths = ", ".join(f'"{FIXTURES / f"{name}.py"}"' for name in BROKEN)
    plugins_toml(f"[plugins]\npaths = [{paths}]\n")
    cli = build_cli()
    runner = CliRunner()
    listed = runner.invoke(cli, ["registry", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [c["reference"] for c in json.loads(listed.stdout)["checkpoints"]] == ["pre@1"]
    verified = runner.invoke(cli, ["registry", "verify", "--json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["ok"] is True


def test_plugins_show_gives_a_builtin_settings_with_types_defaults_constraints_and_descriptions() -> None:
    result = CliRunner().invoke(build_cli(), ["plugins", "show", "transformer", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["kind"], shown["plugin"], shown["distribution"], shown["version"]) == (
        "encoder", "recgraft.plugins.encoders", "recgraft", __version__)
    settings = {s["name"]: s for s in shown["settings"]}
    assert settings["embedding_dim"] == {
        "name": "embedding_dim", "type": "int", "default": 64, "required": False, "constraints": {"ge": 1, "le": 16384},
        "description": "size of item embeddings and user vectors"}
    assert settings["dropout"]["constraints"] == {"ge": 0, "lt": 1}
    text = CliRunner().invoke(build_cli(), ["plugins", "show", "local"])
    assert text.exit_code == 0
    assert "extractor 'local' from plugin recgraft.plugins.extractors (recgraft " in text.output
    assert "'last' | 'mean'" in text.output and "how (B, L, D) layers become (B, D)" in text.output


def test_plugins_show_gives_a_third_party_component(plugins_toml) -> None:
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "toy_plugin.py"}"]\n')
    result = CliRunner().invoke(build_cli(), ["plugins", "show", "toy", "--kind", "head", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["plugin"], shown["source"], shown["status"]) == ("toy_plugin", "local", "ok")
    assert shown["settings"] == [{"name": "width", "type": "int", "default": 4, "required": False,
                                  "constraints": {}, "description": None}]


def test_plugins_show_of_an_unknown_or_ambiguous_name_is_one_line_and_exit_2(tmp_path: Path, plugins_toml) -> None:
    unknown = CliRunner().invoke(build_cli(), ["plugins", "show", "transfomer"])
    assert unknown.exit_code == 2 and "did you mean 'transformer'" in unknown.stderr
    assert unknown.stderr.count("\n") == 1
    twice = tmp_path / "twice.py"
    twice.write_text("from recgraft import hookimpl\nfrom recgraft.head import Head\n\n"
                     "class Transformer(Head):\n    pass\n\n"
                     "@hookimpl\ndef register_heads(register):\n    register('transformer', Transformer)\n")
    plugins_toml(f'[plugins]\npaths = ["{twice}"]\n')
    ambiguous = CliRunner().invoke(build_cli(), ["plugins", "show", "transformer"])
    assert ambiguous.exit_code == 2 and "names an encoder and a head; pass --kind head" in ambiguous.stderr
    chosen = CliRunner().invoke(build_cli(), ["plugins", "show", "transformer", "--kind", "head", "--json"])
    assert json.loads(chosen.stdout)["plugin"] == "twice"
