"""Devices and seeds."""

from __future__ import annotations

import pytest

from recgraft.engine.device import seed_everything
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
