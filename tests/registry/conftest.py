"""Fixtures: a registry on ``tmp_path``; the database URL comes from its own fixture so these
tests can later be parametrized over PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from recgraft.registry import CheckpointRecord, Registry


@pytest.fixture
def registry_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("RECGRAFT_HOME", str(home))
    monkeypatch.delenv("RECGRAFT_REGISTRY_URL", raising=False)
    monkeypatch.delenv("RECGRAFT_CHECKPOINTS", raising=False)
    return home


@pytest.fixture
def registry_url(registry_home: Path) -> str:
    return f"sqlite:///{registry_home / 'registry.db'}"


@pytest.fixture
def registry(registry_url: str, registry_home: Path) -> Iterator[Registry]:
    reg = Registry.open(url=registry_url, store=registry_home / "checkpoints")
    yield reg
    reg.close()


def _make(
    reg: Registry, name: str = "ml-1m-transformer", data: bytes | None = None, **kwargs: Any
) -> CheckpointRecord:
    """Register a small fake checkpoint with sensible defaults."""
    options: dict = {"domain": "ml-1m", "encoder": "transformer", "encoder_config": {"d": 8}}
    options.update(kwargs)
    if data is None:
        data = f"{name}-{os.urandom(8).hex()}".encode()
    return reg.register(name, data, **options)


def _run_python(
    code: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with this environment (plus ``env``)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, timeout=timeout
    )


Make = Callable[..., CheckpointRecord]


@pytest.fixture
def make() -> Make:
    """``make(registry, name="ml-1m-transformer", data=None, **register_kwargs)``."""
    return _make


@pytest.fixture
def run_python() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_python(code, env=None)``: run code in a fresh interpreter (this env plus ``env``)."""
    return _run_python
