"""``recgraft recommend`` through click's runner: strict JSON whatever the model scores."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from recgraft.cli import build_cli
from recgraft.data.domain import Domain
from recgraft.data.export import write_atomic_files
from recgraft.data.synthetic import synthetic_domains
from recgraft.pretrain import pretrain
from recgraft.registry import Registry


def test_recommend_json_of_a_nan_model_is_strict_json_with_finite_scores() -> None:
    domain, _ = synthetic_domains(num_users=(60, 20), num_items=(40, 30), seed=5)
    trained = pretrain(domain, "transformer", {"embedding_dim": 8, "max_length": 8, "num_heads": 1},
                       {"epochs": 1}, device="cpu")
    with torch.no_grad():
        trained.encoder.item_embedding.weight[1:6] = float("nan")  # some items' scores are NaN
    trained.register(Registry.open(), name="broken")
    history = ["--history", domain.items.token(7), "--history", domain.items.token(8)]
    result = CliRunner().invoke(build_cli(), ["recommend", "broken", *history, "-k", "50", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout, parse_constant=lambda constant: math.nan)
    scores = [row["score"] for row in payload["items"]]
    assert scores and all(math.isfinite(score) for score in scores)
    assert not {row["item"] for row in payload["items"]} & {domain.items.token(i) for i in range(1, 6)}


@pytest.fixture
def tiny_model(tmp_path: Path) -> tuple[Domain, Path]:
    """A checkpoint ``tiny`` trained on a small synthetic domain, and that domain's files."""
    domain, _ = synthetic_domains(num_users=(60, 20), num_items=(400, 30), seed=5)
    trained = pretrain(domain, "transformer", {"embedding_dim": 8, "max_length": 8, "num_heads": 1},
                       {"epochs": 1}, device="cpu")
    trained.register(Registry.open(), name="tiny")
    return domain, write_atomic_files(domain, tmp_path / "data")


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"user": str, "item": str})


def test_all_users_writes_what_recommend_gives_each_user(tiny_model: tuple[Domain, Path], tmp_path: Path) -> None:
    domain, folder = tiny_model
    out = tmp_path / "recs.csv"
    cli = build_cli()
    result = CliRunner().invoke(cli, ["recommend", "tiny", "--data", str(folder), "--all-users", "--out", str(out),
                                      "--k", "5"])
    assert result.exit_code == 0, result.output
    table = _read_csv(out)
    assert list(table.columns) == ["user", "rank", "item", "score"]
    assert set(table["user"]) == set(domain.users.tokens[1:]) and len(table) == 5 * domain.num_users
    for user in domain.users.tokens[1:]:
        single = CliRunner().invoke(cli, ["recommend", "tiny", "--data", str(folder), "--user", user, "-k", "5",
                                          "--json"])
        assert single.exit_code == 0, single.output
        expected = json.loads(single.stdout)["items"]
        rows = table[table["user"] == user].sort_values("rank")
        assert rows["item"].tolist() == [row["item"] for row in expected], user
        assert rows["rank"].tolist() == [1, 2, 3, 4, 5]
        assert rows["score"].tolist() == pytest.approx([row["score"] for row in expected], abs=1e-4)


def test_all_users_refuses_to_replace_an_existing_out_without_force(
    tiny_model: tuple[Domain, Path], tmp_path: Path
) -> None:
    _, folder = tiny_model
    out = tmp_path / "recs.csv"
    out.write_text("keep me")
    args = ["recommend", "tiny", "--data", str(folder), "--all-users", "--out", str(out), "-k", "2"]
    refused = CliRunner().invoke(build_cli(), args)
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1 and "already exists" in refused.stderr
    assert out.read_text() == "keep me"
    replaced = CliRunner().invoke(build_cli(), [*args, "--force"])
    assert replaced.exit_code == 0, replaced.output
    assert len(_read_csv(out)) == 2 * 60


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--all-users", "--out", "recs.txt"], "unknown file type '.txt'"),
        (["--all-users"], "--all-users and --out go together"),
        (["--out", "recs.csv"], "--all-users and --out go together"),
        (["--all-users", "--out", "recs.csv", "--user", "u1"], "--all-users and --out go together"),
        (["--user", "u1", "--force"], "--force only applies to --all-users"),
    ],
)
def test_bad_all_users_usage_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(build_cli(), ["recommend", "tiny", "--data", str(tmp_path), *args])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and message in result.stderr, result.output


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is not None, reason="pyarrow is installed")
def test_parquet_out_without_pyarrow_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["recommend", "tiny", "--data", str(tmp_path), "--all-users",
                                              "--out", str(tmp_path / "recs.parquet")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "writing Parquet needs pyarrow: pip install 'recgraft[parquet]'" in result.stderr
