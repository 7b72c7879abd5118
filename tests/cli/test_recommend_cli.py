"""``recgraft recommend`` through click's runner: strict JSON whatever the model scores."""

from __future__ import annotations

import json
import math

import torch
from click.testing import CliRunner

from recgraft.cli import build_cli
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
