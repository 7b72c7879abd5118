"""The pipeline API: checkpoints that stand alone, lineage in the registry, recommendations."""

from __future__ import annotations

import pytest
import torch

from recgraft import __version__
from recgraft.checkpoint import CheckpointFormatError, from_bytes, read_metadata
from recgraft.plugin_manager import catalog
from recgraft.recommender import load_recommender
from recgraft.transfer import Transfer, model_from_contents
from recgraft.transfer.pipeline import default_name

from .conftest import FAST


@pytest.fixture(scope="module")
def result(pretrained, target_split):
    return Transfer.from_pretrained(pretrained, strategy="finetune", align_on="title").fit(target_split, FAST, device="cpu")


def test_registering_records_the_lineage(registry, source_ref, target_split) -> None:
    transfer = Transfer.from_checkpoint(registry, "src", strategy="direct", extractor="global", head="dot")
    result = transfer.fit(target_split, FAST, device="cpu")
    result.evaluate("test")
    record = result.register(registry, name="tgt")
    assert record.parents == [(source_ref, "direct")] and source_ref == "src@1"
    assert record.domain == "target" and record.strategy == "direct" and record.encoder == "transformer"
    assert set(record.metrics) >= {"valid", "test", "zero_shot_valid"}
    assert record.extra["alignment"]["matched"] == 30 and record.extra["head"] == "dot"
    assert registry.lineage("tgt").ancestors == ["src@1"]


def test_a_checkpoint_alone_scores_like_the_trained_model(result, target_split) -> None:
    data = result.to_bytes()
    metadata = read_metadata(data)
    assert metadata["kind"] == "transfer" and metadata["components"]["strategy"]["name"] == "finetune"
    assert metadata["components"]["head"]["name"] == "dot"
    assert metadata["components"]["head"]["config"] == {"project": None}
    loaded = load_recommender(data)
    history = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 9]])
    with torch.no_grad():
        assert torch.allclose(loaded.score(history), result.model.eval()(history), atol=1e-5)
    assert loaded.evaluate(target_split, "test")["ndcg@10"] == pytest.approx(result.evaluate("test")["ndcg@10"])


def test_a_blend_checkpoint_scores_like_the_trained_pair(pretrained, target_split) -> None:
    result = Transfer.from_pretrained(pretrained, strategy="blend", strategy_config={"weight": 0.8}).fit(
        target_split, FAST, device="cpu")
    loaded = load_recommender(result.to_bytes())
    history = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 9]])
    with torch.no_grad():
        assert torch.allclose(loaded.score(history), result.model.eval()(history), atol=1e-5)


def test_a_blend_checkpoint_keeps_the_weight_chosen_on_validation(pretrained, target_split) -> None:
    result = Transfer.from_pretrained(pretrained, strategy="blend", strategy_config={"weight_choices": [0.0, 1.0]}).fit(
        target_split, FAST, device="cpu")
    assert read_metadata(result.to_bytes())["components"]["strategy"]["config"]["weight"] == result.model.weight
    loaded = load_recommender(result.to_bytes())
    history = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 9]])
    with torch.no_grad():
        assert torch.allclose(loaded.score(history), result.model.eval()(history), atol=1e-5)


def test_a_transfer_checkpoint_records_each_components_distribution_and_version(result) -> None:
    components = read_metadata(result.to_bytes())["components"]
    provenance = {role: (spec["plugin"], spec["distribution"], spec["version"]) for role, spec in components.items()}
    assert provenance == {
        "encoder": ("recgraft.plugins.encoders", "recgraft", __version__),
        "extractor": ("recgraft.plugins.extractors", "recgraft", __version__),
        "head": ("recgraft.plugins.heads", "recgraft", __version__),
        "strategy": ("recgraft.plugins.strategies", "recgraft", __version__),
    }


def test_recommend_for_an_unseen_history_from_the_checkpoint_alone(result) -> None:
    items = result.domain.items
    history = [items.token(5), items.token(9), items.token(2)]
    loaded = load_recommender(result.to_bytes())
    top = loaded.recommend(history, k=5)
    assert len(top) == 5 and not set(history) & {item for item, _ in top}
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)
    assert [i for i, _ in top] == [i for i, _ in result.recommend(history, k=5)]
    with pytest.warns(UserWarning, match="skipping 1 item"):
        loaded.recommend([*history, "no-such-item"], k=3)


def test_evaluate_breaks_metrics_down_by_history_length(result) -> None:
    test = result.evaluate("test", breakdown=True)
    assert [b["bucket"] for b in test["by_history_length"]] == ["1-5", "6-20", "21-50", ">50"]
    assert sum(b["users"] for b in test["by_history_length"]) == test["users"]


def test_a_transfer_and_its_checkpoint_give_the_same_per_user_ndcg(result) -> None:
    ours = result.evaluate("test", per_user=True)["per_user"]
    loaded = load_recommender(result.to_bytes()).evaluate(result.split, "test", per_user=True)["per_user"]
    assert ours["users"] == loaded["users"] and len(ours["users"]) == result.evaluate("test")["users"]
    assert ours["ndcg@10"] == pytest.approx(loaded["ndcg@10"], abs=1e-6)


def test_components_can_be_instances(pretrained, target_split) -> None:
    head_cls = catalog().get("head", "mlp")
    head = head_cls(head_cls.Config(hidden_dim=8), 16, 16)
    strategy = catalog().get("strategy", "direct")()
    extractor = catalog().get("extractor", "global")()
    transfer = Transfer.from_pretrained(pretrained, strategy=strategy, extractor=extractor, head=head)
    assert (transfer.strategy_name, transfer.extractor_name, transfer.head_name) == ("direct", "global", "mlp")
    result = transfer.fit(target_split, {"epochs": 1}, device="cpu")
    assert result.model.head is head
    assert read_metadata(result.to_bytes())["components"]["head"]["config"]["hidden_dim"] == 8


def test_a_pretrained_checkpoint_evaluates_on_another_domain(pretrained, target_split) -> None:
    loaded = load_recommender(pretrained.to_bytes())
    metrics = loaded.evaluate(target_split, "test")
    assert loaded.kind == "pretrained" and metrics["unknown_items"] == 19 and metrics["users"] == 60


def test_a_blend_with_a_partner_checkpoint_records_both_parents_and_reloads_alone(
    registry, source_ref, partner_ref, target_split
) -> None:
    transfer = Transfer.from_checkpoint(registry, "src", strategy="blend", strategy_config={"partner": "src-lstm"})
    result = transfer.fit(target_split, FAST, device="cpu")
    record = result.register(registry, name="tgt-pair")
    assert record.parents == [(source_ref, "blend"), (partner_ref, "blend")]
    assert record.extra["pretrained"]["src-lstm"]["alignment"]["matched"] == 30
    assert sorted(registry.lineage("tgt-pair").ancestors) == sorted([source_ref, partner_ref])
    loaded = load_recommender(registry.read_bytes(record))
    history = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 9]])
    with torch.no_grad():
        assert torch.allclose(loaded.score(history), result.model.eval()(history), atol=1e-5)


def test_a_partner_checkpoint_without_the_partner_architecture_is_refused(registry, source_ref, partner_ref,
                                                                          target_split) -> None:
    transfer = Transfer.from_checkpoint(registry, "src", strategy="blend", strategy_config={"partner": "src-lstm"})
    contents = from_bytes(transfer.fit(target_split, {"epochs": 1}, device="cpu").to_bytes())
    del contents.metadata["components"]["pretrained"]["src-lstm"]["encoder"]
    with pytest.raises(CheckpointFormatError, match="does not record the architecture of 'src-lstm'"):
        model_from_contents(contents)


def test_a_diverged_transfer_stops_with_a_clear_error(pretrained, target_split) -> None:
    from recgraft.errors import TrainingDivergedError

    transfer = Transfer.from_pretrained(pretrained, strategy="finetune")
    with pytest.raises(TrainingDivergedError, match=r"training diverged at epoch \d+ \(loss (nan|inf)\); lower"):
        transfer.fit(target_split, {**FAST, "epochs": 4, "learning_rate": 1e30}, device="cpu")


def test_transfers_with_other_heads_get_default_names_of_their_own(registry, source_ref, target_split) -> None:
    names = []
    for head in ("dot", "mlp"):
        result = Transfer.from_checkpoint(registry, "src", strategy="direct", head=head).fit(
            target_split, {**FAST, "epochs": 1}, device="cpu")
        names.append(result.register(registry).reference)
    assert names == ["target-transformer-direct@1", "target-transformer-direct-mlp@1"]


def test_default_name_adds_the_extractor_and_head_only_when_they_are_not_the_defaults() -> None:
    assert default_name("t", "lstm", "finetune", "global", "dot") == "t-lstm-finetune"
    assert default_name("t", "lstm", "finetune", "local", "dot") == "t-lstm-finetune-local"
    assert default_name("t", "lstm", "finetune", "concat", "sigmoid") == "t-lstm-finetune-concat-sigmoid"


def test_a_transfer_fits_on_the_split_it_is_given_by_spec_and_records_it(pretrained, domains, registry) -> None:
    from recgraft.checkpoint import from_bytes

    result = Transfer.from_pretrained(pretrained, strategy="finetune").fit(
        domains[1], FAST, device="cpu", split="ratio:0.6,0.2,0.2")
    assert result.split.spec == "ratio:0.6,0.2,0.2"
    test = result.evaluate("test")
    assert test["users"] == len(result.split.evaluated_users("test")) and "precision@10" in test
    assert from_bytes(result.to_bytes()).metadata["split"] == "ratio:0.6,0.2,0.2"
    assert result.register(registry, name="ratio").extra["split"] == "ratio:0.6,0.2,0.2"
