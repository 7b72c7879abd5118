"""``recgraft evaluate`` through click's runner: strict JSON whatever the model scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from recgraft.cli import build_cli
from recgraft.data.export import write_atomic_files
from recgraft.data.synthetic import synthetic_domains
from recgraft.pretrain import pretrain
from recgraft.registry import Registry


def _strict(text: str) -> object:
    """Parse as strict JSON: NaN, Infinity and -Infinity are refused."""

    def refuse(constant: str) -> object:
        raise AssertionError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_evaluate_json_of_a_nan_model_is_strict_json_with_metrics_in_0_1(tmp_path: Path) -> None:
    domain, _ = synthetic_domains(num_users=(60, 20), num_items=(40, 30), seed=5)
    trained = pretrain(domain, "transformer", {"embedding_dim": 8, "max_length": 8, "num_heads": 1},
                       {"epochs": 1}, device="cpu")
    with torch.no_grad():
        for parameter in trained.encoder.parameters():
            parameter.fill_(float("nan"))  # what a diverged run's weights look like
    trained.register(Registry.open(), name="diverged")
    folder = write_atomic_files(domain, tmp_path / "data")
    result = CliRunner().invoke(build_cli(), ["evaluate", "diverged", "--data", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    payload = _strict(result.stdout)
    assert isinstance(payload, dict)
    for stage in ("valid", "test"):
        for key, value in payload["metrics"][stage].items():
            if key.split("@")[0] in ("hr", "ndcg", "mrr", "recall"):
                assert value == 0.0, (stage, key)  # NaN scores rank last: no credit
    assert all(row["ndcg@10"] == 0.0 for row in payload["by_history_length"] if row["users"])


def test_json_output_refuses_non_finite_numbers() -> None:
    from recgraft.cli.options import echo_json

    with pytest.raises(ValueError, match="JSON"):
        echo_json({"ndcg@10": float("inf")})


@pytest.fixture
def short_histories(tmp_path: Path) -> Path:
    """A registered checkpoint ``tiny`` and a domain whose users all have short histories
    (so the longer history-length groups are empty)."""
    domain, _ = synthetic_domains(num_users=(60, 20), num_items=(40, 30), seed=5)
    trained = pretrain(domain, "transformer", {"embedding_dim": 8, "max_length": 8, "num_heads": 1},
                       {"epochs": 1}, device="cpu")
    trained.register(Registry.open(), name="tiny")
    return write_atomic_files(domain, tmp_path / "data")


def test_evaluate_json_gives_null_metrics_for_an_empty_history_length_group(short_histories: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["evaluate", "tiny", "--data", str(short_histories), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["bucket"]: row for row in _strict(result.stdout)["by_history_length"]}  # type: ignore[index]
    assert rows[">50"] == {"bucket": ">50", "users": 0, "hr@10": None, "ndcg@10": None}
    assert any(row["users"] and row["hr@10"] is not None for row in rows.values())


def test_evaluate_text_shows_a_dash_for_an_empty_history_length_group(short_histories: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["evaluate", "tiny", "--data", str(short_histories)])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith(">50"))
    assert line.split() == [">50", "users", "0", "HR@10", "-", "NDCG@10", "-"]


def test_evaluate_defaults_to_the_split_and_seed_the_checkpoint_was_trained_on(tmp_path: Path) -> None:
    domain, _ = synthetic_domains(num_users=(60, 20), num_items=(40, 30), seed=5)
    folder = write_atomic_files(domain, tmp_path / "data")
    tiny = ["--set", "embedding_dim=8", "--set", "max_length=8", "--set", "num_heads=1", "--epochs", "1"]
    trained = CliRunner().invoke(build_cli(), ["pretrain", "--data", str(folder), *tiny, "--split", "ratio:0.6,0.2,0.2",
                                               "--seed", "3", "--json"])
    assert trained.exit_code == 0, trained.output
    expected = json.loads(trained.stdout)

    same = CliRunner().invoke(build_cli(), ["evaluate", expected["checkpoint"], "--data", str(folder), "--json"])
    assert same.exit_code == 0, same.output
    payload = json.loads(same.stdout)
    assert payload["split"] == "ratio:0.6,0.2,0.2"
    assert payload["metrics"]["test"]["ndcg@10"] == pytest.approx(expected["metrics"]["test"]["ndcg@10"])

    loo = CliRunner().invoke(build_cli(), ["evaluate", expected["checkpoint"], "--data", str(folder), "--split", "loo",
                                           "--json"])
    assert loo.exit_code == 0, loo.output
    assert json.loads(loo.stdout)["split"] == "loo"
