"""The one epoch loop, driven by a toy phase: zero-shot epoch, early stopping, time budget,
resume, best-state restore, choosing on validation and divergence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from recgraft.engine import Phase, TrainConfig, run_epochs
from recgraft.engine.loop import should_stop
from recgraft.engine.progress import Progress
from recgraft.errors import TrainingDivergedError


class ScriptedPhase(Phase):
    """A one-parameter module whose validation score follows a script, one value per epoch
    (index 0 = before training); each step adds 1 to the parameter."""

    def __init__(self, scores: Sequence[float], zero_shot: bool = False, steps: int = 3,
                 losses: Sequence[float] | None = None) -> None:
        self.module = nn.Linear(1, 1, bias=False)
        nn.init.zeros_(self.module.weight)
        self.device = torch.device("cpu")
        self.zero_shot = zero_shot
        self.scores, self.steps, self.losses = list(scores), steps, losses
        self.epoch, self.validations, self.order_seen = 0, 0, []

    def begin_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def epoch_batches(self, epoch: int, generator: torch.Generator) -> list[int]:
        order = torch.randperm(self.steps, generator=generator).tolist()
        self.order_seen.append(order)
        return order

    def step(self, batch: Any) -> dict[str, float]:
        with torch.no_grad():
            self.module.weight += 1.0
        loss = self.losses[self.epoch - 1] if self.losses is not None else 1.0 / self.epoch
        return {"loss": loss}

    def validate(self) -> dict[str, float]:
        self.validations += 1
        return {"ndcg@10": self.scores[min(self.epoch, len(self.scores) - 1)], "hr@10": 0.5}

    def weight(self) -> float:
        return float(self.module.weight.item())


def train(**values: Any) -> TrainConfig:
    return TrainConfig(**{"epochs": 20, "patience": 3, **values})


def test_the_best_epoch_state_is_restored_and_its_validation_returned() -> None:
    phase = ScriptedPhase([0.0, 0.1, 0.3, 0.2, 0.2, 0.2, 0.2])
    result = run_epochs(phase, train())
    assert result.best_epoch == 2 and result.epochs == 5  # stopped 3 epochs after the best
    assert phase.weight() == 2 * 3  # the module is as it was after epoch 2's three steps
    assert result.valid == {"ndcg@10": 0.3, "hr@10": 0.5}
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4, 5]


def test_the_zero_shot_epoch_is_kept_when_training_never_beats_it() -> None:
    phase = ScriptedPhase([0.5, 0.1, 0.2, 0.3], zero_shot=True)
    result = run_epochs(phase, train())
    assert result.best_epoch == 0 and result.zero_shot_valid == {"ndcg@10": 0.5, "hr@10": 0.5}
    assert phase.weight() == 0.0  # the untrained state
    assert result.history[0]["epoch"] == 0 and result.history[0]["valid_ndcg@10"] == 0.5
    assert result.epochs == 3  # patience counts from epoch 0


def test_a_phase_with_nothing_to_train_returns_its_zero_shot_model() -> None:
    class Frozen(ScriptedPhase):
        def trainable(self) -> bool:
            return False

    phase = Frozen([0.4], zero_shot=True)
    result = run_epochs(phase, train())
    assert (result.epochs, result.best_epoch, phase.validations) == (0, 0, 1)
    assert result.valid == result.zero_shot_valid


def test_eval_every_validates_only_every_nth_epoch_and_the_last() -> None:
    phase = ScriptedPhase([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    result = run_epochs(phase, train(epochs=5, eval_every=2))
    assert [("valid_ndcg@10" in row) for row in result.history] == [False, True, False, True, True]


def test_the_time_budget_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 10_000, 40))  # every reading 40 s later
    monkeypatch.setattr("recgraft.engine.loop.time.perf_counter", lambda: float(next(clock)))
    result = run_epochs(ScriptedPhase([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), train(max_minutes=2.0))
    assert 1 <= result.epochs < 6


def test_should_stop_after_patience_epochs_without_improvement() -> None:
    quiet = Progress(enabled=False)
    assert not should_stop(train(patience=3), 4, 2, 0.0, quiet)
    assert should_stop(train(patience=3), 5, 2, 0.0, quiet)


def test_a_non_finite_epoch_loss_stops_the_run_naming_the_epoch() -> None:
    phase = ScriptedPhase([0.0, 0.1, 0.2], losses=[1.0, float("nan")])
    with pytest.raises(TrainingDivergedError, match="epoch 2"):
        run_epochs(phase, train())


def test_choosing_on_validation_revalidates_once_after_the_best_state_is_restored() -> None:
    class Chooser(ScriptedPhase):
        def choose_on_validation(self) -> dict[str, float]:
            self.chosen_at = self.weight()
            return {"weight": 0.7}

    phase = Chooser([0.0, 0.3, 0.1, 0.1, 0.1])
    result = run_epochs(phase, train())
    assert phase.chosen_at == 3.0 and result.chosen == {"weight": 0.7}
    assert phase.validations == result.epochs + 1  # one per epoch, one after choosing


def test_a_resumed_run_continues_the_same_shuffle_and_ends_like_an_uninterrupted_one(tmp_path: Path) -> None:
    scores = [0.0, 0.1, 0.2, 0.3, 0.25, 0.25, 0.25, 0.25]
    whole = ScriptedPhase(scores)
    expected = run_epochs(whole, train(epochs=7))

    first = ScriptedPhase(scores)
    run_epochs(first, train(epochs=3), resume_path=tmp_path / "run.pt")
    second = ScriptedPhase(scores)
    resumed = run_epochs(second, train(epochs=7), resume_path=tmp_path / "run.pt")
    assert first.order_seen + second.order_seen == whole.order_seen
    assert (resumed.best_epoch, resumed.epochs, resumed.valid) == (expected.best_epoch, expected.epochs, expected.valid)
    assert second.weight() == whole.weight()
    assert [row["epoch"] for row in resumed.history] == [row["epoch"] for row in expected.history]


def test_progress_lines_show_the_epoch_of_the_total_and_the_share_of_the_budget(capsys) -> None:
    run_epochs(ScriptedPhase([0.0, 0.1, 0.2]), train(epochs=2, max_minutes=60.0), progress=Progress())
    err = capsys.readouterr().err
    assert "epoch 1/2:" in err and "epoch 2/2:" in err
    assert "s of 3600s budget, 0%" in err
