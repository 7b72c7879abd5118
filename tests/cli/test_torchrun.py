"""``torchrun --nproc-per-node 2 -m recgraft pretrain``: two real gloo processes on the CPU."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from recgraft.cli import build_cli
from recgraft.data.export import write_atomic_files
from recgraft.data.synthetic import synthetic_domains
from recgraft.registry import Registry

FAILING_PLUGIN = Path(__file__).parents[1] / "plugins" / "failing_rank.py"
TINY = ["--set", "embedding_dim=16", "--set", "max_length=10", "--set", "num_heads=1", "--epochs", "4"]


@pytest.fixture
def source_folder(tmp_path: Path) -> Path:
    source, _ = synthetic_domains(num_users=(160, 40), num_items=(60, 50), seed=3)
    return write_atomic_files(source, tmp_path / "source")


def torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    """``torchrun --nproc-per-node 2 -m recgraft ARGS`` (with this interpreter), on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(port),
         "-m", "recgraft", *args],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300,
    )


def test_two_processes_pretrain_and_register_once(source_folder: Path) -> None:
    run = torchrun("pretrain", "--data", str(source_folder), "--encoder", "transformer", *TINY,
                   "--json", "--seed", "0")
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)  # one JSON object: rank 1 printed nothing
    assert payload["checkpoint"] == "source-transformer@1" and payload["epochs"] == 4

    records = Registry.open().list()
    assert [r.reference for r in records] == ["source-transformer@1"]
    assert records[0].extra["processes"] == 2

    # Rank 0 alone logs, once per epoch, the loss averaged over both processes.
    losses = [float(x) for x in re.findall(r"^epoch \d+/\d+: loss ([\d.]+)", run.stderr, flags=re.M)]
    assert len(losses) == 4 and losses[-1] < losses[0]

    evaluated = CliRunner().invoke(build_cli(), ["evaluate", payload["checkpoint"], "--data", str(source_folder),
                                                 "--device", "cpu", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    single = json.loads(evaluated.stdout)["metrics"]["test"]
    for key, value in payload["metrics"]["test"].items():
        assert value == pytest.approx(single[key], abs=1e-9), key


def test_a_failing_process_stops_the_job_and_registers_nothing(source_folder: Path, plugins_toml) -> None:
    plugins_toml(f'[plugins]\npaths = ["{FAILING_PLUGIN.as_posix()}"]\n')
    run = torchrun("pretrain", "--data", str(source_folder), "--encoder", "fails-on-rank-1", *TINY, "--json")
    assert run.returncode != 0
    assert run.stdout == ""
    ours = [line for line in run.stderr.splitlines() if "injected failure" in line]
    assert ours == ["Error: rank 1 of 2 failed: RuntimeError: injected failure on rank 1"]  # no traceback
    assert Registry.open().list() == []


def test_under_torchrun_errors_name_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("WORLD_SIZE", "2"), ("RANK", "1"), ("LOCAL_RANK", "1")):
        monkeypatch.setenv(name, value)
    bad_name = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(tmp_path), "--name", "a/b"])
    assert bad_name.exit_code == 2 and bad_name.stderr.startswith("Error: rank 1 of 2: ")
    assert bad_name.stderr.count("\n") == 1
    usage = CliRunner().invoke(build_cli(), ["pretrain", "--data", "x", "--epochs", "zero"])
    assert usage.exit_code == 2 and "Invalid value for '--epochs'" in usage.stderr  # click's own message
