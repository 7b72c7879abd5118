"""ONNX export of the scoring graph: onnxruntime's scores equal torch's on real histories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recgraft.data import synthetic_domains
from recgraft.data.domain import Domain
from recgraft.export import (
    PARITY_TOLERANCE,
    ExportError,
    evaluation_histories,
    export_onnx,
    onnx_session,
    padded,
)
from recgraft.pretrain import pretrain
from recgraft.recommender import Recommender, load_recommender, score_histories


@pytest.fixture(scope="module")
def source() -> Domain:
    return synthetic_domains(num_users=(60, 30), num_items=(40, 30), seed=0)[0]


@pytest.fixture(scope="module")
def model(source: Domain) -> Recommender:
    trained = pretrain(source, "transformer", {"max_length": 8, "embedding_dim": 8}, {"epochs": 1}, device="cpu")
    return load_recommender(trained.to_bytes())


def test_onnx_scores_equal_torch_on_the_test_users_histories(model: Recommender, source: Domain, tmp_path: Path) -> None:
    histories = evaluation_histories(source, model)
    assert len(histories) == 60 and max(map(len, histories)) > model.max_length  # some are cut to the window
    result = export_onnx(model, tmp_path / "m.onnx", "tiny@1", check=histories)
    assert result.checked_histories == 60
    assert result.max_relative_diff is not None and result.max_relative_diff <= PARITY_TOLERANCE
    theirs = onnx_session(result.graph).run(["scores"], {"histories": padded(histories, model.max_length)})[0]
    ours = score_histories(model.score, histories, model.max_length, "cpu", model.padding_invariant).numpy()
    np.testing.assert_allclose(theirs, ours, atol=1e-4)


def test_the_vocabulary_beside_the_graph_names_every_item_id(model: Recommender, tmp_path: Path) -> None:
    result = export_onnx(model, tmp_path / "m.onnx", "tiny@1")
    assert result.vocabulary == tmp_path / "m.items.json" and result.max_relative_diff is None
    vocabulary = json.loads(result.vocabulary.read_text())
    assert vocabulary["tokens"] == [str(t) for t in model.items.tokens]
    assert vocabulary["checkpoint"] == "tiny@1" and vocabulary["max_length"] == model.max_length
    assert vocabulary["input"]["name"] == "histories" and vocabulary["output"]["name"] == "scores"


def test_a_failed_parity_check_leaves_no_file(model: Recommender, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ExportError, match="differ from torch's"):
        export_onnx(model, out / "m.onnx", check=[[1, 2, 3]], tolerance=-1.0)
    assert list(out.iterdir()) == []


def test_a_transferred_checkpoint_exports_with_parity(model: Recommender, source: Domain, tmp_path: Path) -> None:
    from recgraft.data.split import leave_one_out
    from recgraft.transfer import Transfer

    target = synthetic_domains(num_users=(60, 30), num_items=(40, 30), seed=0)[1]
    pretrained = pretrain(source, "transformer", {"max_length": 8, "embedding_dim": 8}, {"epochs": 1}, device="cpu")
    result = Transfer.from_bytes(pretrained.to_bytes(), "tiny@1", strategy="fusion").fit(
        leave_one_out(target), train={"epochs": 1}, device="cpu")
    transferred = load_recommender(result.to_bytes())
    export = export_onnx(transferred, tmp_path / "t.onnx", "t@1", check=evaluation_histories(target, transferred))
    assert export.max_relative_diff is not None and export.max_relative_diff <= PARITY_TOLERANCE
