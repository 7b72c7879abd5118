"""The memory estimate checked before a model is built, and freed memory handed back during training."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from recgraft.encoder import EncoderConfig
from recgraft.engine import Phase, memory, run_epochs
from recgraft.engine.config import TrainConfig
from recgraft.engine.memory import check_memory, device_memory, training_bytes
from recgraft.errors import ConfigError


def test_training_bytes_grow_with_the_catalogue_the_width_and_the_batch() -> None:
    small = training_bytes(EncoderConfig(embedding_dim=8, max_length=8), 100, 8, TrainConfig())
    assert 0 < small < 2**30
    assert training_bytes(EncoderConfig(embedding_dim=8, max_length=8), 10**6, 8, TrainConfig()) > small * 10
    assert training_bytes(EncoderConfig(embedding_dim=4096, max_length=8), 100, 8, TrainConfig()) > small * 10
    assert training_bytes(EncoderConfig(embedding_dim=8, max_length=8), 100, 8, TrainConfig(batch_size=65536)) > small


def test_check_memory_refuses_a_run_larger_than_the_device_in_one_line() -> None:
    config, train = EncoderConfig(embedding_dim=16384, max_length=10_000), TrainConfig(batch_size=65536)
    with pytest.raises(ConfigError, match=r"encoder 'x': needs at least [\d,.]+ GiB \(1,000,000 items.*lower") as error:
        check_memory("encoder 'x'", config, 10**6, 10_000, train, torch.device("cpu"), available=2**34)
    assert "\n" not in str(error.value)
    check_memory("encoder 'x'", EncoderConfig(), 1000, 50, TrainConfig(), torch.device("cpu"), available=2**34)


def test_device_memory_of_the_cpu_is_the_machines_ram() -> None:
    found = device_memory(torch.device("cpu"))
    assert found is None or found > 2**26


def test_the_loop_hands_freed_memory_back_every_few_steps_and_after_each_validation(monkeypatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr("recgraft.engine.loop.release_freed_memory", lambda: calls.append(1))

    class Steps(Phase):
        module, device = nn.Linear(1, 1), torch.device("cpu")

        def epoch_batches(self, epoch, generator):  # type: ignore[no-untyped-def]
            return range(2 * memory.RELEASE_EVERY + 1)

        def step(self, batch):  # type: ignore[no-untyped-def]
            return {"loss": 1.0}

        def validate(self) -> dict[str, float]:
            return {"ndcg@10": 0.5}

    run_epochs(Steps(), TrainConfig(epochs=3, patience=5))
    assert len(calls) == 3 * (2 + 1)  # two per epoch's 33 steps, one per validation


def test_releasing_freed_memory_is_safe_to_call_anywhere() -> None:
    memory.release_freed_memory()  # glibc's malloc_trim here; nothing where there is none
