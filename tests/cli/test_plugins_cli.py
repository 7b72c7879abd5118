"""``recgraft plugins list`` and the top-level command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    assert set(payload) == {"components", "plugins", "settings"}


def test_plugins_list_reports_a_broken_plugin_and_exits_zero(plugins_toml) -> None:
    plugins_toml(f'[plugins]\npaths = ["{FIXTURES / "broken_import.py"}"]\n')
    result = CliRunner().invoke(build_cli(), ["plugins", "list", "--json"])
    assert result.exit_code == 0
    broken = next(p for p in json.loads(result.stdout)["plugins"] if p["name"] == "broken_import")
    assert broken["status"] == "error" and "broken on purpose" in broken["error"]


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
