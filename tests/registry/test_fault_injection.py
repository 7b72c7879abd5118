"""A kill at any point of a registry write leaves a registry that ``registry verify`` calls
clean, or whose leftovers ``registry verify --clean`` removes; what was committed before
survives, and the write either happened whole or not at all.

Each case runs the real CLI in a subprocess (tests/kill_at.py) that dies with
``os._exit`` before or after one step of the write path: the file write, the rename, the
fsync, the database flush and commit, the file delete.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

KILL_AT = Path(__file__).parents[1] / "kill_at.py"
KILLED = 86

# Steps of the write paths, as the runner names them.
PUT = "recgraft.registry.files.local:CheckpointStore.put"
DELETE = "recgraft.registry.files.local:CheckpointStore.delete"
REPLACE = "os:replace"
FSYNC = "os:fsync"
FLUSH = "sqlalchemy.orm:Session.flush"
COMMIT = "sqlalchemy.orm:Session.commit"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECGRAFT_")}
    return {**env, "RECGRAFT_HOME": str(home), "OMP_NUM_THREADS": "1"}


def _recgraft(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from recgraft.cli import main; sys.argv[0] = 'recgraft'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _killed(
    home: Path, target: str, when: str, nth: int, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(KILL_AT), target, when, str(nth), "--", *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _state(home: Path) -> dict[str, object]:
    """What a user sees: every live record's reference and aliases (from ``registry list``)."""
    listed = _recgraft(home, "registry", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return {
        c["reference"]: sorted(c.get("aliases") or [])
        for c in json.loads(listed.stdout)["checkpoints"]
    }


def _assert_clean_after_verify(home: Path) -> None:
    """``verify --clean`` removes any leftovers, after which ``verify`` is clean and every
    live record's file reads back."""
    cleaned = _recgraft(home, "registry", "verify", "--clean", "--json")
    assert cleaned.returncode in (0, 1), cleaned.stderr
    again = _recgraft(home, "registry", "verify", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    report = json.loads(again.stdout)
    assert report["ok"] and report["missing"] == report["mismatched"] == report["orphans"] == []
    assert report["checked"] == len(_state(home))


@pytest.fixture
def bundle(tiny_bundles: list[Path]) -> Path:
    """The second checkpoint's bundle: what the tests import into a registry that has the first."""
    return tiny_bundles[1]


@pytest.fixture
def home(tmp_path: Path, tiny_bundles: list[Path]) -> Path:
    """A registry home with one checkpoint, ``source-transformer@1``, aliased ``prod``."""
    home = tmp_path / "home"
    for args in (
        ("registry", "import", str(tiny_bundles[0])),
        ("registry", "tag", "source-transformer@1", "prod"),
    ):
        done = _recgraft(home, *args)
        assert done.returncode == 0, done.stderr
    return home


CASES = [
    (target, when, nth)
    for target, nths in (
        (PUT, (1,)),
        (REPLACE, (1,)),
        (FSYNC, (1,)),
        (FLUSH, (1, 2)),
        (COMMIT, (1,)),
    )
    for nth in nths
    for when in ("before", "after")
]


@pytest.mark.parametrize(("target", "when", "nth"), CASES)
def test_a_killed_import_is_all_or_nothing(
    tmp_path: Path, bundle: Path, home: Path, target: str, when: str, nth: int
) -> None:
    before = _state(home)
    killed = _killed(home, target, when, nth, "registry", "import", str(bundle))
    assert killed.returncode == KILLED, killed.stderr  # the step was reached
    after = _state(home)
    assert after in (before, {**before, "source-transformer@2": []})
    _assert_clean_after_verify(home)
    assert _state(home) == after


@pytest.mark.parametrize(
    ("target", "when"), [(FLUSH, "before"), (FLUSH, "after"), (COMMIT, "before"), (COMMIT, "after")]
)
def test_a_killed_tag_moves_the_alias_whole_or_not_at_all(
    home: Path, bundle: Path, target: str, when: str
) -> None:
    assert _recgraft(home, "registry", "import", str(bundle)).returncode == 0
    before = _state(home)
    killed = _killed(home, target, when, 1, "registry", "tag", "source-transformer@2", "prod")
    assert killed.returncode == KILLED, killed.stderr  # the step was reached
    after = _state(home)
    moved = {"source-transformer@1": [], "source-transformer@2": ["prod"]}
    assert after in (before, moved)
    _assert_clean_after_verify(home)
    assert _state(home) == after


@pytest.mark.parametrize(
    ("target", "when"),
    [
        (FLUSH, "before"),
        (FLUSH, "after"),
        (COMMIT, "before"),
        (COMMIT, "after"),
        (DELETE, "before"),
        (DELETE, "after"),
    ],
)
def test_a_killed_remove_removes_whole_or_not_at_all(home: Path, target: str, when: str) -> None:
    before = _state(home)
    killed = _killed(home, target, when, 1, "registry", "remove", "source-transformer@1")
    assert killed.returncode == KILLED, killed.stderr  # the step was reached
    after = _state(home)
    assert after in (before, {})
    _assert_clean_after_verify(home)
    assert _state(home) == after
