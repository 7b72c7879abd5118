"""Learning-rate schedules: warm-up, cosine decay to the run's horizon (epochs or the time
budget), rates restored between epochs, and the step count carried through a resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from recgraft.engine import Phase, TrainConfig, run_epochs
from recgraft.engine.schedule import LearningRateSchedule, schedule_factor


class RecordingPhase(Phase):
    """An SGD-trained scalar whose optimiser's learning rate is recorded at every step."""

    def __init__(self, steps: int = 4, base_rate: float = 0.1, epoch_rates: dict[int, float] | None = None) -> None:
        self.module = nn.Linear(1, 1, bias=False)
        self.device = torch.device("cpu")
        self.optimizer = torch.optim.SGD(self.module.parameters(), lr=base_rate)
        self.steps, self.base_rate, self.epoch_rates = steps, base_rate, epoch_rates or {}
        self.rates: list[float] = []
        self.epoch = 0

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.optimizer]

    def begin_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if epoch in self.epoch_rates:  # as a transfer strategy sets its groups' rates per epoch
            self.optimizer.param_groups[0]["lr"] = self.epoch_rates[epoch]

    def epoch_batches(self, epoch: int, generator: torch.Generator) -> list[int]:
        return list(range(self.steps))

    def step(self, batch: Any) -> dict[str, float]:
        self.rates.append(self.optimizer.param_groups[0]["lr"])
        return {"loss": 1.0}

    def validate(self) -> dict[str, float]:
        return {"ndcg@10": float(self.epoch)}  # always improving: no early stop


def test_warmup_rises_linearly_to_the_full_rate() -> None:
    assert [schedule_factor("constant", step, 4, 100) for step in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_cosine_is_one_after_warmup_half_at_midway_and_zero_at_the_horizon() -> None:
    assert schedule_factor("cosine", 10, 10, 110) == pytest.approx(1.0)
    assert schedule_factor("cosine", 60, 10, 110) == pytest.approx(0.5)
    assert schedule_factor("cosine", 110, 10, 110) == pytest.approx(0.0)
    assert schedule_factor("cosine", 500, 10, 110) == pytest.approx(0.0)  # past the horizon: stays at 0


def test_the_default_schedule_leaves_learning_rates_untouched() -> None:
    phase = RecordingPhase()
    run_epochs(phase, TrainConfig(epochs=3))
    assert phase.rates == [0.1] * 12


def test_cosine_decays_over_the_runs_epochs() -> None:
    phase = RecordingPhase(steps=4)
    run_epochs(phase, TrainConfig(epochs=3, lr_schedule="cosine"))
    expected = [0.1 * schedule_factor("cosine", step, 0, 12) for step in range(12)]
    assert phase.rates == pytest.approx(expected)
    assert phase.optimizer.param_groups[0]["lr"] == 0.1  # unscaled again once the run is over


def test_the_rate_a_phase_sets_for_an_epoch_is_that_epochs_base() -> None:
    phase = RecordingPhase(steps=2, epoch_rates={2: 0.5})
    run_epochs(phase, TrainConfig(epochs=3, warmup_steps=2))
    assert phase.rates == pytest.approx([0.05, 0.1, 0.5, 0.5, 0.5, 0.5])


@pytest.mark.parametrize(("spent", "horizon"), [(20.0, 30), (14.0, 50), (35.0, 20)])
def test_with_a_time_budget_the_horizon_is_the_end_of_the_epoch_the_budget_runs_out_in(spent: float, horizon: int) -> None:
    optimizer = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
    schedule = LearningRateSchedule(TrainConfig(epochs=100, max_minutes=1.0, lr_schedule="cosine"), [optimizer])
    schedule.begin_epoch(1, 10, 0.0)
    assert schedule.horizon == 1000  # no pace yet: the epochs decide
    for _ in range(10):
        schedule.before_step()
    schedule.end_epoch()
    # 10 steps in ``spent`` s; the loop stops after the epoch in which the 60 s run out, so the
    # decay ends with a whole epoch: 40 s left at 2 s a step is 2 epochs, 46 s at 1.4 s is 3.3
    # (so 4), 25 s at 3.5 s is 0.7 (so 1)
    schedule.begin_epoch(2, 10, spent)
    assert schedule.horizon == horizon


def test_constant_rates_never_ask_the_phase_for_its_optimisers() -> None:
    class NoOptimisers(RecordingPhase):
        def optimizers(self) -> list[torch.optim.Optimizer]:
            raise NotImplementedError  # as a plugin objective that implements only step()

    run_epochs(NoOptimisers(), TrainConfig(epochs=2))


def test_a_resumed_run_continues_the_schedule_where_it_stopped(tmp_path: Path) -> None:
    whole = RecordingPhase(steps=3)
    run_epochs(whole, TrainConfig(epochs=4, lr_schedule="cosine", warmup_steps=2))
    first, second = RecordingPhase(steps=3), RecordingPhase(steps=3)
    run_epochs(first, TrainConfig(epochs=2, lr_schedule="cosine", warmup_steps=2), resume_path=tmp_path / "run.pt")
    run_epochs(second, TrainConfig(epochs=4, lr_schedule="cosine", warmup_steps=2), resume_path=tmp_path / "run.pt")
    assert first.rates[:2] == pytest.approx(whole.rates[:2])  # the same warm-up
    assert second.rates == pytest.approx(whole.rates[6:])
