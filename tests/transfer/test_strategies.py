"""Strategies: what each trains, what each leaves alone, and how bad settings are reported."""

from __future__ import annotations

import pytest
import torch

from recgraft.errors import ConfigError, UnknownComponentError
from recgraft.testing import StrategyContract
from recgraft.transfer import Transfer
from recgraft.transfer_model import TransferModel

from .conftest import FAST


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> set[str]:
    return {k for k, v in module.state_dict().items() if not torch.equal(before[k], v)}


def test_direct_leaves_the_encoder_bit_identical_and_trains_the_rest(pretrained, target_split) -> None:
    result = Transfer.from_pretrained(pretrained, strategy="direct").fit(target_split, FAST, device="cpu")
    model = result.model
    aligned = Transfer.from_pretrained(pretrained, strategy="direct")
    # the encoder after training equals the aligned pretrained encoder, bit for bit
    reference = Transfer.from_pretrained(pretrained, strategy="direct").fit(target_split, {"epochs": 1}, device="cpu")
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, reference.model.encoder.state_dict()[key]), key
    assert all(not p.requires_grad for p in model.encoder.parameters())
    assert result.training.best_epoch > 0 and model.item_bias.abs().sum() > 0
    assert aligned.strategy_name == "direct"


def test_finetune_changes_the_encoder_but_not_frozen_layers(pretrained, target_split) -> None:
    transfer = Transfer.from_pretrained(pretrained, strategy="finetune",
                                        strategy_config={"freeze": ["position_embedding"]})
    start = snapshot(pretrained.encoder)
    result = transfer.fit(target_split, {**FAST, "patience": 10}, device="cpu")
    assert snapshot(pretrained.encoder).keys() == start.keys()  # the source model is not touched
    assert all(torch.equal(start[k], v) for k, v in pretrained.encoder.state_dict().items())
    encoder = result.model.encoder
    assert torch.equal(encoder.position_embedding.weight, start["position_embedding.weight"])
    assert not torch.equal(encoder.blocks[0].qkv.weight, start["blocks.0.qkv.weight"])
    groups = {g["name"]: g["lr"] for g in transfer.strategy.parameter_groups(result.model, 1.0)}
    assert groups == {"encoder": 0.3, "items": 1.0, "head": 1.0}


def test_finetune_head_first_epochs_keep_the_encoder_still(pretrained, target_split) -> None:
    transfer = Transfer.from_pretrained(pretrained, strategy="finetune", strategy_config={"head_first_epochs": 3})
    start = snapshot(pretrained.encoder)
    result = transfer.fit(target_split, {**FAST, "epochs": 3, "patience": 10}, device="cpu")
    moved = {k for k, v in result.model.encoder.state_dict().items() if k in start and not torch.equal(start[k], v)}
    assert moved <= {"item_embedding.weight"}  # the item table may train; no encoder layer did
    assert result.training.best_epoch > 0 and result.model.item_bias.abs().sum() > 0


def test_finetune_encoder_joins_after_the_head_first_epochs() -> None:
    from recgraft.plugins.strategies.finetune import FinetuneStrategy

    strategy = FinetuneStrategy(FinetuneStrategy.Config(head_first_epochs=2))
    assert [strategy.learning_rate_scales(epoch) for epoch in (1, 2, 3)] == [{"encoder": 0.0}, {"encoder": 0.0}, {}]


def test_fusion_trains_the_target_encoder_and_the_gate(pretrained, target_split) -> None:
    transfer = Transfer.from_pretrained(pretrained, strategy="fusion")
    result = transfer.fit(target_split, {**FAST, "patience": 10}, device="cpu")
    adapter = result.model.adapter
    fresh = transfer.with_strategy("fusion").fit(target_split, {"epochs": 1, "learning_rate": 1e-12}, device="cpu")
    assert changed(snapshot(fresh.model.adapter.target), adapter.target)  # the target encoder trained
    assert not torch.allclose(adapter.gate.bias, torch.full_like(adapter.gate.bias, 2.0))  # the gate trained
    assert all(not p.requires_grad for p in result.model.encoder.parameters())


def test_blend_trains_both_members_and_ranks_by_their_mixed_log_probabilities(pretrained, target_split) -> None:
    transfer = Transfer.from_pretrained(pretrained, strategy="blend", strategy_config={"weight": 0.6})
    result = transfer.fit(target_split, {**FAST, "patience": 10}, device="cpu")
    model = result.model.eval()
    untrained = Transfer.from_pretrained(pretrained, strategy="blend").fit(
        target_split, {"epochs": 1, "learning_rate": 1e-12}, device="cpu").model
    assert changed(snapshot(untrained.partner.encoder), model.partner.encoder)  # the target-only member trained
    assert changed(snapshot(pretrained.encoder), model.encoder) - {"item_embedding.weight"}  # so did the fine-tuned one
    history = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 9]])
    with torch.no_grad():
        own = torch.nn.functional.log_softmax(TransferModel.score(model, TransferModel.features(model, history)), dim=-1)
        partner = torch.nn.functional.log_softmax(model.partner(history), dim=-1)
        assert torch.allclose(model(history), 0.6 * own + 0.4 * partner, atol=1e-5)
    groups = {g["name"]: g["lr"] for g in transfer.strategy.parameter_groups(model, 1.0)}
    assert groups == {"encoder": 0.3, "items": 1.0, "head": 1.0, "partner": 1.0}


def test_blend_keeps_the_weight_choice_with_the_best_validation_score(pretrained, target_split) -> None:
    choices = [0.0, 0.5, 1.0]
    transfer = Transfer.from_pretrained(pretrained, strategy="blend", strategy_config={"weight_choices": choices})
    result = transfer.fit(target_split, FAST, device="cpu")
    chosen = result.training.chosen["weight"]
    scores = {}
    for weight in choices:
        result.model.weight = weight
        scores[weight] = result.evaluate("valid")["ndcg@10"]
    result.model.weight = chosen
    assert scores[chosen] == max(scores.values()) and len(set(scores.values())) > 1
    assert result.training.valid["ndcg@10"] == pytest.approx(scores[chosen])
    assert result.strategy_config["weight"] == chosen


def test_blend_weight_choices_outside_zero_to_one_are_refused(pretrained) -> None:
    with pytest.raises(ConfigError, match="strategy 'blend': weight_choices"):
        Transfer.from_pretrained(pretrained, strategy="blend", strategy_config={"weight_choices": [0.5, 1.5]})


def test_blend_control_starts_both_members_at_random(pretrained, target_split) -> None:
    transfer = Transfer.from_pretrained(pretrained, strategy="blend", strategy_config={"pretrained": False})
    model = transfer.fit(target_split, {"epochs": 1, "learning_rate": 1e-12}, device="cpu").model
    start = pretrained.encoder.state_dict()
    assert not torch.equal(model.encoder.blocks[0].qkv.weight, start["blocks.0.qkv.weight"])
    assert not torch.equal(model.encoder.blocks[0].qkv.weight, model.partner.encoder.blocks[0].qkv.weight)
    groups = {g["name"]: g["lr"] for g in transfer.strategy.parameter_groups(model, 1.0)}
    assert set(groups.values()) == {1.0}  # a random start is not held back like a pretrained one


def test_scratch_starts_from_random_weights(pretrained, target_split) -> None:
    result = Transfer.from_pretrained(pretrained, strategy="scratch").fit(target_split, {"epochs": 1}, device="cpu")
    finetune = Transfer.from_pretrained(pretrained, strategy="finetune").fit(target_split, {"epochs": 1}, device="cpu")
    assert finetune.training.zero_shot_valid["ndcg@10"] > result.training.zero_shot_valid["ndcg@10"]


@pytest.mark.parametrize("strategy", ["scratch", "finetune", "blend"])
def test_the_same_seed_repeats_a_run_bit_for_bit(pretrained, target_split, strategy: str) -> None:
    def run(seed: int, before: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(before)  # the random state the process was left in must not matter
        transfer = Transfer.from_pretrained(pretrained, strategy=strategy)
        return transfer.fit(target_split, {**FAST, "seed": seed}, device="cpu").model.state_dict()

    first, again, other = run(1, before=10), run(1, before=11), run(2, before=10)
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert any(not torch.equal(first[key], other[key]) for key in first)


def test_training_never_ends_below_the_zero_shot_model(pretrained, target_split) -> None:
    # a huge learning rate wrecks the model: early stopping keeps epoch 0
    result = Transfer.from_pretrained(pretrained, strategy="finetune").fit(
        target_split, {**FAST, "learning_rate": 5.0, "patience": 2}, device="cpu")
    assert result.training.valid["ndcg@10"] >= result.training.zero_shot_valid["ndcg@10"]


def test_unknown_strategy_and_bad_settings_are_named(pretrained) -> None:
    with pytest.raises(UnknownComponentError, match="unknown strategy 'fintune'.*did you mean 'finetune'"):
        Transfer.from_pretrained(pretrained, strategy="fintune")
    with pytest.raises(ConfigError, match="strategy 'finetune': encoder_lr"):
        Transfer.from_pretrained(pretrained, strategy="finetune", strategy_config={"encoder_lr": 0.1})
    with pytest.raises(ConfigError, match="strategy 'finetune': freeze: no encoder parameter starts with 'block9'"):
        Transfer.from_pretrained(pretrained, strategy_config={"freeze": ["block9"]}).fit(
            pretrained.split, {"epochs": 1}, device="cpu")


def test_source_mix_trains_on_source_windows_too(pretrained, target_split) -> None:
    transfer = Transfer.from_pretrained(pretrained, strategy="finetune", strategy_config={"source_mix": 0.5})
    result = transfer.fit(target_split, FAST, device="cpu")
    assert result.training.epochs >= 1
    with pytest.raises(ConfigError, match="source_mix needs the source domain"):
        Transfer.from_pretrained(pretrained, strategy_config={"source_mix": 0.5}, source_domain=None)


def test_blend_partner_from_another_checkpoint_starts_from_its_weights_and_trains(
    registry, source_ref, partner_ref, pretrained_lstm, target_split
) -> None:
    transfer = Transfer.from_checkpoint(registry, source_ref, strategy="blend", strategy_config={"partner": "src-lstm"})
    untrained = transfer.fit(target_split, {"epochs": 1, "learning_rate": 1e-12}, device="cpu")
    start = snapshot(pretrained_lstm.encoder)
    assert not changed(start, untrained.model.partner.encoder) - {"item_embedding.weight"}
    assert untrained.pretrained["src-lstm"]["reference"] == partner_ref
    assert untrained.pretrained["src-lstm"]["encoder"]["name"] == "lstm"
    trained = transfer.fit(target_split, {**FAST, "patience": 10}, device="cpu").model
    assert changed(start, trained.partner.encoder) - {"item_embedding.weight"}
    groups = {g["name"]: g["lr"] for g in transfer.strategy.parameter_groups(trained, 1.0)}
    assert groups == {"encoder": 0.3, "items": 1.0, "head": 1.0}  # the partner trains at the fine-tuned rates


def test_blend_partner_control_keeps_the_architecture_but_not_the_weights(
    registry, source_ref, partner_ref, pretrained_lstm, target_split
) -> None:
    config = {"partner": partner_ref, "pretrained": False}
    transfer = Transfer.from_checkpoint(registry, source_ref, strategy="blend", strategy_config=config)
    result = transfer.fit(target_split, {"epochs": 1, "learning_rate": 1e-12}, device="cpu")
    assert type(result.model.partner.encoder) is type(pretrained_lstm.encoder)
    assert changed(snapshot(pretrained_lstm.encoder), result.model.partner.encoder) - {"item_embedding.weight"}
    assert result.pretrained[partner_ref]["fresh"]


def test_blend_partner_needs_a_way_to_read_checkpoints(pretrained, target_split) -> None:
    transfer = Transfer.from_pretrained(pretrained, strategy="blend", strategy_config={"partner": "src-lstm@1"})
    with pytest.raises(ConfigError, match="'src-lstm@1': this transfer cannot read other checkpoints"):
        transfer.fit(target_split, FAST, device="cpu")


class TestDirectContract(StrategyContract):
    component = "direct"


class TestFinetuneContract(StrategyContract):
    component = "finetune"


class TestFusionContract(StrategyContract):
    component = "fusion"


class TestBlendContract(StrategyContract):
    component = "blend"


class TestScratchContract(StrategyContract):
    component = "scratch"
