"""Resume files: atomic, verified by their sha256, claimed by one live process at a time."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recgraft.engine import resume
from recgraft.errors import ResumeStateError, RunInUseError

STATE = {"epoch": 3, "weights": torch.arange(40, dtype=torch.float32), "history": [{"loss": 1.5}]}

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from recgraft.engine import resume

    with resume.claim(Path(sys.argv[1])):
        print("held", flush=True)
        sys.stdin.readline()  # until the test lets go
    """
)


def _saved(tmp_path: Path) -> Path:
    path = tmp_path / "runs" / "run.pt"
    path.parent.mkdir(exist_ok=True)
    resume.save(path, STATE)
    return path


def test_save_then_load_gives_the_state_back_and_leaves_no_tmp_file(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    loaded = resume.load(path, "cpu")
    assert loaded is not None and loaded["epoch"] == 3 and torch.equal(loaded["weights"], STATE["weights"])
    assert sorted(p.name for p in path.parent.iterdir()) == ["run.pt"]
    assert resume.load(tmp_path / "none.pt", "cpu") is None


@pytest.mark.parametrize("damage", ["truncated", "empty", "old format"])
def test_a_damaged_resume_file_is_refused_naming_it(tmp_path: Path, damage: str) -> None:
    path = _saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"",
                      "old format": data.partition(b"\n")[2]}[damage])
    with pytest.raises(ResumeStateError, match=r"resume file .*run\.pt is unusable .*delete it or run without --resume"):
        resume.load(path, "cpu")


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_any_flipped_bit_is_caught(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    path = _saved(tmp_path_factory.mktemp("flip"))
    content = bytearray(path.read_bytes())
    position = data.draw(st.integers(0, len(content) - 1))
    content[position] ^= 1 << data.draw(st.integers(0, 7))
    path.write_bytes(bytes(content))
    with pytest.raises(ResumeStateError, match="run.pt"):
        resume.load(path, "cpu")


def test_a_failed_save_keeps_the_previous_state_and_no_tmp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _saved(tmp_path)

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(resume.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        resume.save(path, {**STATE, "epoch": 4})
    loaded = resume.load(path, "cpu")
    assert loaded is not None and loaded["epoch"] == 3
    assert sorted(p.name for p in path.parent.iterdir()) == ["run.pt"]


def test_a_run_claimed_by_another_live_process_is_refused_until_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "run.pt"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RunInUseError, match=r"another run with the same settings is using .*run\.pt"):
            with resume.claim(path):
                pass
    finally:
        holder.communicate("\n", timeout=30)
    with resume.claim(path), resume.claim(path):  # free again; nested claims in one process are fine
        pass
