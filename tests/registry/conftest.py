"""Fixtures: a registry on a new database of each backend (``db_backend``, see
tests/conftest.py: SQLite always, PostgreSQL when $RECGRAFT_TEST_POSTGRES_URL names a
server) with its checkpoint files under ``tmp_path``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from recgraft.registry import CheckpointRecord, Registry

from ..conftest import fake_checkpoint


@pytest.fixture
def registry_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("RECGRAFT_HOME", str(home))
    monkeypatch.delenv("RECGRAFT_REGISTRY_URL", raising=False)
    monkeypatch.delenv("RECGRAFT_CHECKPOINTS", raising=False)
    return home


@pytest.fixture
def registry_url(registry_home: Path, new_database_url: Callable[[str], str]) -> str:
    return new_database_url("registry")


@pytest.fixture
def registry(registry_url: str, registry_home: Path) -> Iterator[Registry]:
    reg = Registry.open(url=registry_url, store=registry_home / "checkpoints")
    yield reg
    reg.close()


def _make(
    reg: Registry, name: str = "ml-1m-transformer", data: bytes | None = None, **kwargs: Any
) -> CheckpointRecord:
    """Register a small valid checkpoint holding ``data`` (random if None), sensible defaults."""
    options: dict = {"domain": "ml-1m", "encoder": "transformer", "encoder_config": {"d": 8}}
    options.update(kwargs)
    if data is None:
        data = f"{name}-{os.urandom(8).hex()}".encode()
    if isinstance(data, bytes):
        data = fake_checkpoint(data, options["encoder"], options.get("strategy"))
    return reg.register(name, data, **options)


def _run_python(
    code: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    args: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with ``args`` in a fresh interpreter with this environment (plus ``env``)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


Make = Callable[..., CheckpointRecord]


@pytest.fixture
def make() -> Make:
    """``make(registry, name="ml-1m-transformer", data=None, **register_kwargs)``."""
    return _make


@pytest.fixture
def run_python() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_python(code, env=None, args=())``: run code in a fresh interpreter (this env plus
    ``env``), ``args`` in ``sys.argv[1:]``."""
    return _run_python


@pytest.fixture(scope="session")
def tiny_bundles(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Bundles of two real, tiny pretrained checkpoints of one name (seeds 0 and 1), made once."""
    from recgraft import plugin_manager
    from recgraft.data import synthetic_domains
    from recgraft.pretrain import pretrain

    root = tmp_path_factory.mktemp("tiny-bundles")
    plugin_manager.reset()
    source, _ = synthetic_domains(num_users=(60, 20), num_items=(40, 30), seed=0)
    out = []
    with Registry.open(url=f"sqlite:///{root / 'r.db'}", store=root / "files") as reg:
        for seed in (0, 1):
            trained = pretrain(
                source,
                "transformer",
                {"max_length": 8, "embedding_dim": 8},
                {"epochs": 1, "seed": seed},
                device="cpu",
            )
            record = trained.register(reg)
            out.append(reg.export_bundle(record.reference, root / f"source-{seed}.tar.gz"))
    plugin_manager.reset()
    return out
