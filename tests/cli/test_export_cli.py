"""``recgraft export REF --format onnx --out FILE``: the graph, its vocabulary, a parity line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from recgraft.cli import build_cli
from recgraft.data import synthetic_domains
from recgraft.data.export import write_atomic_files
from recgraft.pretrain import pretrain
from recgraft.registry import Registry


@pytest.fixture
def registered(isolated_home: Path, tmp_path: Path) -> Path:
    """``tiny@1`` in the test's registry; returns the folder of its domain's atomic files."""
    source = synthetic_domains(num_users=(40, 20), num_items=(30, 20), seed=0)[0]
    trained = pretrain(source, "transformer", {"max_length": 8, "embedding_dim": 8}, {"epochs": 1}, device="cpu")
    with Registry.open() as reg:
        trained.register(reg, name="tiny")
    return write_atomic_files(source, tmp_path / "domain")


def test_export_writes_the_graph_and_vocabulary_and_checks_parity_on_the_domain(registered: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "tiny.onnx"
    result = CliRunner().invoke(build_cli(), ["export", "tiny@1", "--format", "onnx", "--out", str(out),
                                              "--check-data", str(registered), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["checkpoint"] == "tiny@1" and payload["checked_histories"] == 40
    assert payload["max_relative_diff"] <= payload["tolerance"]
    assert out.is_file() and (tmp_path / "out" / "tiny.items.json").is_file()


def test_export_without_data_checks_parity_on_catalogue_histories(registered: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["export", "tiny", "--out", str(tmp_path / "t.onnx")])
    assert result.exit_code == 0, result.output
    assert "parity: onnxruntime equals torch on 256 histories" in result.stdout


def test_export_of_an_unknown_reference_is_one_line_and_exit_2(isolated_home: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["export", "nothing@1", "--out", str(tmp_path / "t.onnx")])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "t.onnx").exists()


def test_export_on_a_missing_registry_is_one_line_and_creates_nothing(isolated_home: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["export", "tiny", "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert list(isolated_home.iterdir()) == [] and not (tmp_path / "m.onnx").exists()


def test_export_refuses_an_existing_file_unless_forced(registered: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.onnx"
    out.write_text("keep me")
    refused = CliRunner().invoke(build_cli(), ["export", "tiny", "--out", str(out), "--no-check"])
    assert refused.exit_code == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "already exists: use --force" in refused.stderr and out.read_text() == "keep me"
    forced = CliRunner().invoke(build_cli(), ["export", "tiny", "--out", str(out), "--no-check", "--force"])
    assert forced.exit_code == 0, forced.output
    assert out.read_bytes() != b"keep me" and (tmp_path / "t.items.json").is_file()


def test_export_never_replaces_a_file_that_is_not_regular(registered: Path, tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "t.onnx"
    os.mkfifo(fifo)
    result = CliRunner().invoke(build_cli(), ["export", "tiny", "--out", str(fifo), "--no-check", "--force"])
    assert result.exit_code == 2 and "not a regular file" in result.stderr
    assert fifo.is_fifo() and not (tmp_path / "t.items.json").exists()


def test_check_data_takes_the_shared_loader_options(registered: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["export", "tiny", "--out", str(tmp_path / "t.onnx"),
                                              "--check-data", str(registered), "--check-option", "nosuch=1"])
    assert result.exit_code == 2 and "nosuch" in result.stderr and len(result.stderr.strip().splitlines()) == 1
