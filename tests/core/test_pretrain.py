"""Pretraining: the pretraining phase through the engine's loop (learning, early stopping, resume, divergence)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recgraft.data.split import leave_one_out
from recgraft.data.synthetic import synthetic_domains
from recgraft.engine.config import TrainConfig
from recgraft.engine.device import autocast, seed_everything, use_precision
from recgraft.pretrain import PretrainingPhase, build_encoder, fit, pretrain

CONFIG = {"embedding_dim": 16, "num_heads": 1, "max_length": 10}


@pytest.fixture(scope="module")
def split():
    return leave_one_out(synthetic_domains(num_users=(150, 50), num_items=(80, 60), seed=1)[0])


def fresh_encoder(split):
    seed_everything(0)
    return build_encoder("transformer", CONFIG, split.domain.num_items)


class Interrupted(Exception):
    pass


def test_training_improves_validation_ndcg(split) -> None:
    result = fit(fresh_encoder(split), split, TrainConfig(epochs=6, batch_size=32, learning_rate=5e-3), torch.device("cpu"))
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert result.valid["ndcg@10"] >= max(h["valid_ndcg@10"] for h in result.history) - 1e-9


def test_early_stopping_stops_after_patience_epochs_without_improvement(split) -> None:
    result = fit(
        fresh_encoder(split), split,
        TrainConfig(epochs=50, batch_size=64, learning_rate=1e-6, patience=2), torch.device("cpu"),
    )
    assert result.epochs - result.best_epoch == 2
    assert result.epochs < 50


def test_resume_continues_where_it_stopped(split, tmp_path: Path) -> None:
    train = TrainConfig(epochs=4, batch_size=32, learning_rate=5e-3, patience=10)
    uninterrupted = fresh_encoder(split)
    fit(uninterrupted, split, train, torch.device("cpu"))

    resume = tmp_path / "run.pt"
    interrupted = fresh_encoder(split)

    def stop_after_two(epoch: int, record: dict[str, float]) -> None:
        if epoch == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        fit(interrupted, split, train, torch.device("cpu"), resume_path=resume, on_epoch=stop_after_two)
    # The interruption hit after epoch 2 ran but before its state was saved: epoch 1 is on disk.
    resumed = fresh_encoder(split)
    result = fit(resumed, split, train, torch.device("cpu"), resume_path=resume)
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    for (key, a), b in zip(uninterrupted.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), key


def test_length_bucketed_training_learns_and_repeats_with_the_seed(split) -> None:
    config = TrainConfig(epochs=4, batch_size=16, learning_rate=5e-3, bucket_by_length=True)
    runs = [fit(fresh_encoder(split), split, config, torch.device("cpu")) for _ in range(2)]
    assert runs[0].history[-1]["loss"] < runs[0].history[0]["loss"]
    assert runs[0].valid == runs[1].valid


def test_a_diverged_run_stops_with_a_clear_error_instead_of_picking_a_garbage_epoch(split) -> None:
    from recgraft.errors import TrainingDivergedError

    train = TrainConfig(epochs=5, batch_size=32, learning_rate=1e30)
    with pytest.raises(TrainingDivergedError, match=r"training diverged at epoch \d+ \(loss (nan|inf)\); lower the learning rate"):
        fit(fresh_encoder(split), split, train, torch.device("cpu"))


def test_check_losses_names_the_epoch_and_the_non_finite_loss() -> None:
    from recgraft.engine.loop import check_losses
    from recgraft.errors import TrainingDivergedError

    check_losses(1, {"loss": 2.5, "d_loss": 0.1})
    with pytest.raises(TrainingDivergedError, match=r"^training diverged at epoch 3 \(d_loss inf\); lower the learning rate$"):
        check_losses(3, {"loss": 2.5, "d_loss": float("inf")})


def test_resuming_from_a_damaged_file_is_refused_naming_it(split, tmp_path: Path) -> None:
    from recgraft.errors import ResumeStateError

    train = TrainConfig(epochs=3, batch_size=64, learning_rate=5e-3)
    resume = tmp_path / "run.pt"

    def stop_after_two(epoch: int, record: dict[str, float]) -> None:
        if epoch == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        fit(fresh_encoder(split), split, train, torch.device("cpu"), resume_path=resume, on_epoch=stop_after_two)
    data = bytearray(resume.read_bytes())
    data[len(data) // 2] ^= 0x10  # one flipped bit: must not resume silently
    resume.write_bytes(bytes(data))
    with pytest.raises(ResumeStateError, match=r"run\.pt is unusable .*delete it or run without --resume"):
        fit(fresh_encoder(split), split, train, torch.device("cpu"), resume_path=resume)
    resume.write_bytes(bytes(data[:100]))  # truncated
    with pytest.raises(ResumeStateError, match=r"run\.pt is unusable"):
        fit(fresh_encoder(split), split, train, torch.device("cpu"), resume_path=resume)


def test_every_train_setting_has_a_description() -> None:
    from recgraft.training import TrainConfig

    assert [name for name, info in TrainConfig.model_fields.items() if not (info.description or "").strip()] == []


def test_pretraining_on_a_ratio_split_trains_on_the_train_parts_and_picks_the_epoch_on_validation() -> None:
    from recgraft.checkpoint import from_bytes
    from recgraft.engine.batching import next_item_examples
    from recgraft.pretrain import pretrain

    domain = synthetic_domains(num_users=(150, 50), num_items=(80, 60), seed=1)[0]
    trained = pretrain(domain, "transformer", CONFIG, {"epochs": 3, "batch_size": 32, "learning_rate": 5e-3},
                       device="cpu", split="ratio-time:0.8,0.1,0.1")
    data = trained.split
    assert data.spec == "ratio-time:0.8,0.1,0.1"
    # the training windows' targets are the train parts' items after their first: no held-out item
    examples = next_item_examples(data.train, data.train_users, CONFIG["max_length"])
    assert int((examples.targets > 0).sum()) == int((data.train.lengths()[data.train_users] - 1).clip(0).sum())
    assert trained.result.valid["ndcg@10"] == max(h["valid_ndcg@10"] for h in trained.result.history)
    assert trained.test["users"] == len(data.evaluated_users("test")) > 0
    assert trained.test["recall@10"] <= trained.test["hr@10"]  # several held-out items: a hit finds some of them
    assert from_bytes(trained.to_bytes()).metadata["split"] == "ratio-time:0.8,0.1,0.1"


def test_pretrain_refuses_a_split_spec_that_is_not_the_given_splits() -> None:
    from recgraft.errors import ConfigError
    from recgraft.pretrain import pretrain

    data = leave_one_out(synthetic_domains(num_users=(40, 20), num_items=(30, 20), seed=1)[0])
    with pytest.raises(ConfigError, match="already split by 'loo'"):
        pretrain(data, "transformer", CONFIG, {"epochs": 1}, device="cpu", split="ratio:0.8,0.1,0.1")


# --- precision ---------------------------------------------------------------------------------


def test_bf16_training_ranks_like_float32_within_a_stated_tolerance(split) -> None:
    """Same seed, same batches: bf16 autocast moves validation NDCG@10 by at most 0.03 at any
    epoch, and the bf16-trained model's scores are float32."""
    train = {"epochs": 4, "batch_size": 32, "learning_rate": 5e-3}
    results = {}
    for precision in ("float32", "bf16"):
        encoder = fresh_encoder(split)
        results[precision] = fit(encoder, split, TrainConfig(**train, precision=precision), torch.device("cpu"))
    curves = {p: [h["valid_ndcg@10"] for h in r.history] for p, r in results.items()}
    assert max(abs(a - b) for a, b in zip(curves["float32"], curves["bf16"], strict=True)) <= 0.03, curves
    with use_precision("bf16"):
        scores = encoder.scorer(torch.device("cpu"))(torch.tensor([[0, 1, 2, 3]]))
    assert scores.dtype == torch.float32


@pytest.mark.parametrize("precision", ["auto", "bf16"])
def test_the_default_settings_reach_a_stated_ndcg_within_six_epochs(precision: str) -> None:
    """A regression guard on convergence per epoch (not on time): the default transformer and
    training settings reach validation NDCG@10 0.35 within 6 epochs on a small synthetic task
    (0.41 measured in float32 and bf16; epoch 1 is under 0.10)."""
    task = leave_one_out(synthetic_domains(num_domains=1, num_users=300, num_items=120, interactions_per_user=30,
                                           seed=3)[0])
    result = pretrain(task, "transformer", {"max_length": 30}, {"epochs": 6, "precision": precision}, device="cpu").result
    assert result.valid["ndcg@10"] >= 0.35, [h["valid_ndcg@10"] for h in result.history]


def test_pretraining_takes_the_encoders_training_defaults_for_what_the_caller_leaves_unset(split) -> None:
    from recgraft.plugins.encoders.transformer import TransformerEncoder

    trained = pretrain(split, "transformer", CONFIG, {"epochs": 1}, device="cpu")
    assert trained.train_config.learning_rate == TransformerEncoder.pretraining_defaults["learning_rate"] == 4e-3
    assert trained.train_config.epochs == 1


def test_a_training_setting_the_caller_names_wins_over_the_encoders_default(split) -> None:
    default = TrainConfig().learning_rate  # named explicitly, even at TrainConfig's own default
    trained = pretrain(split, "transformer", CONFIG, TrainConfig(epochs=1, learning_rate=default), device="cpu")
    assert trained.train_config.learning_rate == default


def test_an_invalid_pretraining_default_is_a_config_error_naming_the_encoder() -> None:
    from recgraft.errors import ConfigError
    from recgraft.plugins.encoders.transformer import TransformerEncoder
    from recgraft.pretrain import with_pretraining_defaults

    class Broken(TransformerEncoder):
        pretraining_defaults = {"learning_rate": -1.0}

    with pytest.raises(ConfigError, match="Broken.pretraining_defaults"):
        with_pretraining_defaults(TrainConfig(), Broken)


@pytest.mark.parametrize(("precision", "native", "recorded"), [
    ("auto", True, "bf16-autocast"), ("auto", False, "float32"), ("bf16", False, "bf16-autocast"),
    ("float32", True, "float32"),
])
def test_the_checkpoint_and_record_say_which_precision_trained_it(
    precision: str, native: bool, recorded: str, split, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recgraft.checkpoint import read_metadata
    from recgraft.engine import device
    from recgraft.registry import Registry

    monkeypatch.setattr(device, "cpu_supports_bf16", lambda: native)
    seen = []
    step = PretrainingPhase.step

    def spy(self: PretrainingPhase, batch):  # type: ignore[no-untyped-def]
        with autocast(self.device):
            seen.append(torch.is_autocast_enabled("cpu"))
        return step(self, batch)

    monkeypatch.setattr(PretrainingPhase, "step", spy)
    trained = pretrain(split, "transformer", CONFIG, {"epochs": 1, "precision": precision}, device="cpu")
    assert set(seen) == {recorded == "bf16-autocast"}
    assert read_metadata(trained.to_bytes())["precision"] == recorded
    assert read_metadata(trained.to_bytes())["train"]["precision"] == precision  # what was asked
    assert trained.register(Registry.open()).precision == recorded


def test_a_schedule_on_an_objective_without_optimizers_is_a_config_error_naming_it(split) -> None:
    from recgraft.errors import ConfigError
    from recgraft.objective import PretrainingObjective

    class StepOnly(PretrainingObjective):  # all docs/plugins.md asks an objective for
        def step(self, batch):  # type: ignore[no-untyped-def]
            return {"loss": 1.0}

    encoder = fresh_encoder(split)
    fit(encoder, split, TrainConfig(epochs=1), torch.device("cpu"), objective=StepOnly(encoder, TrainConfig()))
    with pytest.raises(ConfigError, match="StepOnly.optimizers"):
        fit(encoder, split, TrainConfig(epochs=1, lr_schedule="cosine"), torch.device("cpu"),
            objective=StepOnly(encoder, TrainConfig()))
