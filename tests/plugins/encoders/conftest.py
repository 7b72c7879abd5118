"""A tiny synthetic domain and split shared by the encoder tests."""

from __future__ import annotations

import pytest

from recgraft.data.split import LeaveOneOutSplit, leave_one_out
from recgraft.data.synthetic import synthetic_domains


@pytest.fixture(scope="session")
def small_split() -> LeaveOneOutSplit:
    source, _ = synthetic_domains(seed=0)
    return leave_one_out(source)
