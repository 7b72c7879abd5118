"""Devices, precision and seeds."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from recgraft.engine import device
from recgraft.engine.config import TrainConfig
from recgraft.engine.device import (
    autocast,
    precision_for,
    resolve_precision,
    seed_everything,
    use_precision,
)
from recgraft.errors import ConfigError


@pytest.mark.parametrize("seed", [-1, 2**63, 2**70, True])
def test_seed_everything_refuses_seeds_torch_or_numpy_cannot_take(seed: int) -> None:
    with pytest.raises(ConfigError, match="seed must be an integer from 0 to 2\\*\\*63-1"):
        seed_everything(seed)


def test_seed_everything_takes_the_largest_seed() -> None:
    assert seed_everything(2**63 - 1).initial_seed() == 2**63 - 1


def test_seed_everything_takes_numpy_integers() -> None:
    import numpy as np

    assert seed_everything(np.int64(3)).initial_seed() == 3


# --- precision -------------------------------------------------------------------------------

CPU = torch.device("cpu")


def test_float32_turns_autocast_off_and_bf16_turns_it_on_on_the_cpu() -> None:
    linear = torch.nn.Linear(4, 4)
    with autocast(CPU, precision="float32"):
        assert linear(torch.ones(1, 4)).dtype == torch.float32
    with autocast(CPU, precision="bf16"):
        assert linear(torch.ones(1, 4)).dtype == torch.bfloat16
        with autocast(CPU, enabled=False):  # turns the enclosing one off
            assert linear(torch.ones(1, 4)).dtype == torch.float32
    assert precision_for(CPU, "float32") == "float32" and precision_for(CPU, "bf16") == "bf16-autocast"


@pytest.mark.parametrize("native", [True, False])
def test_auto_uses_bf16_on_a_cpu_only_where_it_multiplies_bf16_natively(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(device, "cpu_supports_bf16", lambda: native)
    assert resolve_precision(CPU) == resolve_precision(CPU, "auto") == ("bf16" if native else "float32")
    assert precision_for(CPU) == ("bf16-autocast" if native else "float32")
    assert resolve_precision(torch.device("cuda"), "auto") == "bf16"  # as before: CUDA autocasts
    assert resolve_precision(torch.device("mps"), "auto") == "float32"


def test_the_cpu_probe_answers_a_bool() -> None:
    assert isinstance(device.cpu_supports_bf16(), bool)


def test_use_precision_sets_the_default_for_the_block_only() -> None:
    with use_precision("bf16"):
        assert resolve_precision(CPU) == "bf16"
        with use_precision("float32"):
            assert resolve_precision(CPU) == "float32"
        assert resolve_precision(CPU, "float32") == "float32"  # a named one wins
    assert resolve_precision(CPU) == resolve_precision(CPU, "auto")


def test_unknown_or_unsupported_precisions_are_refused() -> None:
    with pytest.raises(ConfigError, match="precision 'fp16': choose one of auto, float32, bf16"):
        resolve_precision(CPU, "fp16")
    with pytest.raises(ConfigError, match="not on mps"):
        resolve_precision(torch.device("mps"), "bf16")
    with pytest.raises(ValidationError):
        TrainConfig(precision="fp16")
    assert TrainConfig().precision == "auto"
