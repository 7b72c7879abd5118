"""Benchmark scripts loaded as modules, so their bookkeeping is tested without running them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[2] / "bench"


@pytest.fixture(scope="module")
def bench(request: pytest.FixtureRequest) -> ModuleType:
    """``bench/SCRIPT.py`` as a module (its ``main`` not run), SCRIPT the test module's ``SCRIPT``."""
    name = request.module.SCRIPT
    if str(BENCH) not in sys.path:  # as when run as a script: the scripts import their shared modules
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
