"""Toy-sized related domains and a pretrained source encoder shared by the transfer tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from recgraft.data.domain import Domain
from recgraft.data.split import LeaveOneOutSplit, leave_one_out
from recgraft.data.synthetic import synthetic_domains
from recgraft.pretrain import PretrainedEncoder, pretrain
from recgraft.registry import Registry

ENCODER = {"embedding_dim": 16, "max_length": 12, "num_layers": 1, "num_heads": 1, "dropout": 0.1}
FAST = {"epochs": 2, "patience": 2, "batch_size": 32, "learning_rate": 3e-3}


@pytest.fixture(autouse=True)
def short_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Toy data needs no 16-update epochs; 4 keep the suite fast."""
    from recgraft.transfer import training as transfer_training

    monkeypatch.setattr(transfer_training, "MIN_STEPS_PER_EPOCH", 4)


@pytest.fixture(scope="session")
def domains() -> tuple[Domain, Domain]:
    source, target = synthetic_domains(
        num_users=(160, 60), num_items=(60, 50), interactions_per_user=(16, 10), overlap=0.6, seed=0
    )
    return source, target


@pytest.fixture(scope="session")
def pretrained(domains: tuple[Domain, Domain]) -> PretrainedEncoder:
    return pretrain(domains[0], "transformer", ENCODER, {"epochs": 4, "batch_size": 32, "learning_rate": 5e-3},
                    device="cpu")


@pytest.fixture(scope="session")
def pretrained_lstm(domains: tuple[Domain, Domain]) -> PretrainedEncoder:
    """A second source model of another architecture (a blend's partner)."""
    config = {"embedding_dim": 16, "hidden_dim": 16, "max_length": 12}
    return pretrain(domains[0], "lstm", config, {"epochs": 2, "batch_size": 32, "learning_rate": 5e-3}, device="cpu")


@pytest.fixture(scope="session")
def target_split(domains: tuple[Domain, Domain]) -> LeaveOneOutSplit:
    return leave_one_out(domains[1])


@pytest.fixture
def registry(isolated_home: Path) -> Registry:
    reg = Registry.open()
    yield reg
    reg.close()


@pytest.fixture
def source_ref(registry: Registry, pretrained: PretrainedEncoder) -> str:
    return pretrained.register(registry, name="src").reference


@pytest.fixture
def partner_ref(registry: Registry, pretrained_lstm: PretrainedEncoder) -> str:
    return pretrained_lstm.register(registry, name="src-lstm").reference
