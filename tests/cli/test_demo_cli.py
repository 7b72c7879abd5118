"""``recgraft demo``: the whole flow on synthetic data with no files."""

from __future__ import annotations

import json

from click.testing import CliRunner

from recgraft.cli import build_cli
from recgraft.registry import Registry


def test_demo_json_has_every_strategy_against_scratch_and_the_lineage(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(build_cli(), ["demo", "--encoder", "lstm", "--registry", url, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    rows, features = payload["rows"][:4], payload["rows"][4:]
    assert [r["strategy"] for r in rows] == ["scratch", "direct", "fusion", "finetune"]
    # then the transfer through item features onto a target with no shared item, against scratch
    assert [(r["encoder"], r["strategy"]) for r in features] == [
        ("transformer+genre", "scratch (no shared items)"), ("transformer+genre", "finetune (no shared items)")]
    assert features[1]["gain_ndcg10"] is not None
    assert rows[0]["gain_ndcg10"] is None
    for row in rows[1:]:
        expected = (row["ndcg10"] - rows[0]["ndcg10"]) / rows[0]["ndcg10"]
        assert abs(row["gain_ndcg10"] - expected) < 1e-3
    assert "demo-target-lstm-finetune@1" in payload["lineage"]["demo-source-lstm@1"]
    # With --registry the checkpoints stay, with their lineage.
    registry = Registry.open(url=url)
    assert registry.resolve("demo-target-lstm-fusion").parents[0][0] == "demo-source-lstm@1"


def test_demo_without_features_runs_only_the_shared_catalogue(tmp_path, monkeypatch) -> None:
    from recgraft.demo import run_demo

    registry = Registry.open(url=f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setattr("recgraft.demo.PRETRAIN", {"epochs": 1, "batch_size": 64})
    monkeypatch.setattr("recgraft.demo.TRANSFER", {"epochs": 1, "batch_size": 64})
    report = run_demo(registry, ["lstm"], ["direct"], features=False)
    assert [r.strategy for r in report.rows] == ["scratch", "direct"]
