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


def test_the_demo_paragraph_names_the_strategies_the_demo_runs() -> None:
    from recgraft.demo import STRATEGIES

    paragraph = README.split("Run the demo", 1)[1].split("\n\n", 1)[0]
    for strategy in STRATEGIES:
        assert f"`{strategy}`" in paragraph, strategy
    assert "blend" in STRATEGIES or "(not `blend`" in paragraph
    assert "each strategy" not in paragraph


def test_the_postgres_test_command_selects_every_postgres_test() -> None:
    command = re.search(r'export RECGRAFT_TEST_POSTGRES_URL="\$\(\.ci/postgres\)"\n    (.+)\n', README)
    assert command is not None
    args = shlex.split(command.group(1))
    assert args[0] == "pytest" and "-m" in args and args[args.index("-m") + 1] == "postgres"
    paths = [ROOT / arg for arg in args[1:] if not arg.startswith("-") and arg != "postgres"]
    markers = ("postgres_admin", "new_postgres_url", "db_backend", "new_database_url", "mark.postgres")
    using = [path for path in (ROOT / "tests").rglob("test_*.py") if any(m in path.read_text() for m in markers)]
    assert {path.parent.name for path in using} >= {"registry", "cli"}
    for path in using:
        assert not paths or any(path.is_relative_to(folder) for folder in paths), path


def test_the_readme_documents_every_setting_of_ci_postgres() -> None:
    settings = set(re.findall(r"\$\{(RECGRAFT_\w+):-", (ROOT / ".ci" / "postgres").read_text()))
    assert settings >= {"RECGRAFT_PG_DATA", "RECGRAFT_PG_PORT"}
    testing = README.split("The registry tests run on SQLite", 1)[1]
    for name in settings:
        assert f"`${name}`" in testing, name


def test_the_readme_says_where_the_tour_writes_and_where_shared_data_is() -> None:
    tour = " ".join(README.split("## A tour of the command line\n", 1)[1].split("```console", 1)[0].split())
    assert "`$RECGRAFT_HOME` (default `~/.recgraft`)" in tour and 'export RECGRAFT_HOME=' in tour
    movielens = " ".join(README.split("On MovieLens", 1)[1].split("\n\n", 1)[0].split())
    assert "`../shared/data` is the folder `shared/data` beside the repository" in movielens
    assert "from the repository's root" in movielens
    assert "tens of minutes to an hour on a 2-core CPU" in movielens


def test_the_readme_explains_the_lineage_tree_marker() -> None:
    assert "`<==` marks the checkpoint asked about" in " ".join(README.split())
