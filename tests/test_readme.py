"""The README's command-line and Python tours run as written, and CI runs its test command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from recgraft.cli import build_cli

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


def fenced(language: str, section: str) -> str:
    """The first ``language`` code block under the README heading ``section``."""
    text = README.split(f"## {section}\n", 1)[1]
    found = re.search(rf"```{language}\n(.*?)```", text, flags=re.S)
    assert found is not None, section
    return found.group(1)


def test_ci_runs_the_readme_test_command() -> None:
    command = re.search(r"Run the tests.*?\n\n    (.+?)\n", README, flags=re.S)
    assert command is not None
    assert command.group(1) in (ROOT / ".ci" / "run").read_text()


def test_command_line_tour_runs_in_order(monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    tour = fenced("console", "A tour of the command line")
    lines = [line[2:] for line in tour.splitlines() if line.startswith("$ ")]
    assert len(lines) >= 10
    for line in lines:
        args = shlex.split(line)
        assert args[0] == "recgraft"
        result = CliRunner().invoke(build_cli(), args[1:])
        assert result.exit_code == 0, f"{line}\n{result.output}"


def test_python_tour_runs() -> None:
    tour = fenced("python", "A tour of the Python API")
    namespace: dict[str, object] = {}
    exec(compile(tour, "README.md", "exec"), namespace)
    assert namespace["child"].strategy == "finetune"  # type: ignore[attr-defined]
