"""``recgraft compare``: two checkpoints on the same users, with a paired bootstrap interval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from recgraft.cli import build_cli
from recgraft.data.export import write_atomic_files
from recgraft.data.synthetic import synthetic_domains
from recgraft.pretrain import pretrain
from recgraft.registry import Registry


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A domain folder with a transformer (``seq``) and most popular (``pop``) registered on it."""
    domain, _ = synthetic_domains(num_users=(80, 20), num_items=(40, 30), interactions_per_user=(14, 8), seed=3)
    registry = Registry.open()
    pretrain(domain, "transformer", {"embedding_dim": 8, "max_length": 8, "num_heads": 1},
             {"epochs": 3, "learning_rate": 0.01}, device="cpu").register(registry, name="seq")
    pretrain(domain, "popular", {}, {}, device="cpu").register(registry, name="pop")
    registry.close()
    return write_atomic_files(domain, tmp_path / "data")


def invoke(*args: str):
    return CliRunner().invoke(build_cli(), list(args))


def test_compare_reports_both_means_the_gain_and_its_interval_on_the_same_users(data: Path) -> None:
    result = invoke("compare", "seq", "pop", "--data", str(data), "--samples", "500", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    evaluated = json.loads(invoke("evaluate", "seq", "--data", str(data), "--json").stdout)
    ndcg = payload["metrics"]["ndcg@10"]
    assert payload["users"] == evaluated["metrics"]["test"]["users"] and payload["split"] == evaluated["split"]
    assert ndcg["ours"] == pytest.approx(evaluated["metrics"]["test"]["ndcg@10"])
    assert ndcg["gain"] == pytest.approx(ndcg["ours"] / ndcg["theirs"] - 1)
    assert ndcg["low"] <= ndcg["gain"] <= ndcg["high"]
    assert set(payload["metrics"]) == {"ndcg@10", "hr@10"}


def test_a_model_compared_with_itself_shows_no_measurable_difference(data: Path) -> None:
    result = invoke("compare", "seq", "seq", "--data", str(data), "--metric", "recall@10", "--samples", "200")
    assert result.exit_code == 0, result.output
    assert "RECALL@10" in result.stdout and "+0.0% (95% interval +0.0% to +0.0%" in result.stdout
    assert "no measurable difference" in result.stdout


def test_compare_takes_another_split_for_both_models(data: Path) -> None:
    result = invoke("compare", "seq", "pop", "--data", str(data), "--split", "ratio:0.8,0.1,0.1", "--stage", "valid",
                    "--samples", "200", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["split"].startswith("ratio") and payload["stage"] == "valid"


def test_compare_with_an_unknown_checkpoint_is_a_one_line_error(data: Path) -> None:
    result = invoke("compare", "seq", "no-such-model", "--data", str(data))
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "no-such-model" in result.stderr
