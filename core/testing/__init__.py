"""Contract test suites for plugin authors: run them against your own components.

    from recgraft.testing import EncoderContract

    class TestMyEncoder(EncoderContract):
        component = "windowmean"
        config = {"embedding_dim": 16}

Every suite checks its kind's contracts (docs/plugins.md), one test per contract; the
checks behind them are in :mod:`recgraft.testing.checks`. Needs pytest.
"""

from recgraft.testing.checks import ContractViolation
from recgraft.testing.suites import (
    TOY_ENCODERS,
    ComponentContract,
    DatasetContract,
    EncoderContract,
    ExtractorContract,
    HeadContract,
    ItemFeatureContract,
    StrategyContract,
)

__all__ = [
    "TOY_ENCODERS",
    "ComponentContract",
    "ContractViolation",
    "DatasetContract",
    "EncoderContract",
    "ExtractorContract",
    "HeadContract",
    "ItemFeatureContract",
    "StrategyContract",
]
