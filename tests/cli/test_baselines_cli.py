"""The non-sequential baselines through the CLI: pretrain, evaluate, recommend and export."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from recgraft.cli import build_cli
from recgraft.data.export import write_atomic_files
from recgraft.data.synthetic import synthetic_domains
from recgraft.registry import Registry


@pytest.fixture
def source_folder(tmp_path: Path) -> Path:
    source, _ = synthetic_domains(num_users=(120, 40), num_items=(60, 50), seed=3)
    return write_atomic_files(source, tmp_path / "source")


@pytest.mark.parametrize("name", ["ease", "itemknn", "popular", "bpr"])
def test_pretrain_evaluate_recommend(source_folder: Path, name: str) -> None:
    cli = build_cli()
    short = ["--epochs", "2"] if name == "bpr" else []
    trained = CliRunner().invoke(cli, ["pretrain", "--data", str(source_folder), "--encoder", name, *short, "--json"])
    assert trained.exit_code == 0, trained.output
    payload = json.loads(trained.stdout)
    assert payload["checkpoint"] == f"source-{name}@1"
    record = Registry.open().resolve(f"source-{name}")
    assert record.encoder == name

    evaluated = CliRunner().invoke(cli, ["evaluate", f"source-{name}", "--data", str(source_folder), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads(evaluated.stdout)
    assert metrics["checkpoint"] == f"source-{name}@1"
    # evaluating the registered checkpoint gives the test metrics pretraining reported
    assert metrics["metrics"]["test"]["ndcg@10"] == pytest.approx(payload["metrics"]["test"]["ndcg@10"], abs=1e-6)

    domain = synthetic_domains(num_users=(120, 40), num_items=(60, 50), seed=3)[0]
    lengths = np.bincount(domain.user_ids)[1:]  # the shortest history leaves the most to recommend
    user = domain.users.token(int(lengths.argmin()) + 1)
    recommended = CliRunner().invoke(cli, ["recommend", f"source-{name}", "--data", str(source_folder),
                                           "--user", user, "-k", "5", "--json"])
    assert recommended.exit_code == 0, recommended.output
    items = json.loads(recommended.stdout)["items"]
    assert len(items) == 5
    scores = [row["score"] for row in items]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.skipif(importlib.util.find_spec("onnx") is None, reason="needs the onnx extra")
def test_export_of_ease_keeps_parity(source_folder: Path, tmp_path: Path) -> None:
    cli = build_cli()
    trained = CliRunner().invoke(cli, ["pretrain", "--data", str(source_folder), "--encoder", "ease",
                                       "--set", "l2_grid=[10.0]", "--json"])
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "ease.onnx"
    result = CliRunner().invoke(cli, ["export", "source-ease", "--out", str(out), "--check-data",
                                      str(source_folder), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["max_relative_diff"] <= payload["tolerance"]
