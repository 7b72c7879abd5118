"""Fixtures shared by every test: an isolated recgraft home, a fresh plugin system, and
empty registry databases on each backend (SQLite always, PostgreSQL when there is a server)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from recgraft import plugin_manager

PLUGIN_FIXTURES = Path(__file__).parent / "plugins"
POSTGRES_URL_ENV = "RECGRAFT_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "CI_REQUIRE_POSTGRES"
NO_POSTGRES = f"PostgreSQL not available: set {POSTGRES_URL_ENV}, see .ci/postgres"


def pytest_configure(config: pytest.Config) -> None:
    """Toy-sized models run fastest on one thread, and test subprocesses then never
    oversubscribe the cores; set before torch is first imported (here or in subprocesses)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that need the PostgreSQL server carry the ``postgres`` mark (``-m postgres``)."""
    for item in items:
        if "postgres_admin" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say once, with the reason, how many PostgreSQL tests were skipped."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        if "postgres" in report.keywords and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in reasons.items():
        terminalreporter.write_line(f"SKIPPED {count} PostgreSQL tests: {reason}", yellow=True)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test gets its own $RECGRAFT_HOME and runs outside the repo (no plugins.toml)."""
    home = tmp_path / "recgraft-home"
    home.mkdir()
    monkeypatch.setenv("RECGRAFT_HOME", str(home))
    for var in ("RECGRAFT_REGISTRY_URL", "RECGRAFT_PLUGINS_TOML", "RECGRAFT_LOAD_PLUGINS",
                "RECGRAFT_TRACE_PLUGINS", "RECGRAFT_CHECKPOINTS"):
        monkeypatch.delenv(var, raising=False)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    plugin_manager.reset()
    yield home
    plugin_manager.reset()


@pytest.fixture
def plugins_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a plugins.toml and point recgraft at it; returns a writer taking the TOML text."""

    def write(text: str) -> Path:
        path = tmp_path / "plugins.toml"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("RECGRAFT_PLUGINS_TOML", str(path))
        plugin_manager.reset()
        return path

    return write


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Any]:
    """An autocommit engine on the test server's database ($RECGRAFT_TEST_POSTGRES_URL).

    Without a reachable server the PostgreSQL tests are skipped, or fail when
    $CI_REQUIRE_POSTGRES is 1 (CI must not pass by skipping them).
    """
    from sqlalchemy import text

    from recgraft.registry.db import describe_url, make_engine

    def unavailable(reason: str) -> None:
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"{REQUIRE_POSTGRES_ENV}=1 but {reason}", pytrace=False)
        pytest.skip(reason)

    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        unavailable(NO_POSTGRES)
        return
    try:
        engine = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # a missing driver, a bad URL, a server that is down
        first = " ".join(str(exc).split())[:200]
        unavailable(
            f"PostgreSQL at {describe_url(url)} is not reachable ({first}); see .ci/postgres"
        )
        return
    yield engine
    engine.dispose()


@pytest.fixture
def new_postgres_url(postgres_admin: Any) -> Iterator[Callable[[], str]]:
    """``new_postgres_url()``: the URL of a new, empty database, dropped after the test."""
    from sqlalchemy import text

    created: list[str] = []

    def new() -> str:
        name = f"recgraft_t_{uuid.uuid4().hex[:16]}"
        with postgres_admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return postgres_admin.url.set(database=name).render_as_string(hide_password=False)

    yield new
    with postgres_admin.connect() as conn:
        for name in created:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_backend(request: pytest.FixtureRequest) -> str:
    """The registry's database, once per backend (tests that use it run on each)."""
    return str(request.param)


@pytest.fixture
def new_database_url(
    db_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[str], str]:
    """``new_database_url(label)``: the URL of a new, empty database on the backend under test."""
    if db_backend == "postgresql":
        new_postgres = request.getfixturevalue("new_postgres_url")
        return lambda label: new_postgres()
    return lambda label: f"sqlite:///{tmp_path / f'{label}.db'}"


def fake_checkpoint(payload: bytes = b"", encoder: str = "transformer", strategy: str | None = None,
                    items: tuple[str, ...] = ("[PAD]", "i1", "i2")) -> bytes:
    """A structurally valid recgraft checkpoint (no torch): ``payload`` as one uint8 tensor."""
    import json

    import numpy as np
    from safetensors.numpy import save

    metadata: dict[str, Any] = {"format": "recgraft/1", "components": {"encoder": {"name": encoder, "config": {}}},
                                "items": list(items)}
    if strategy is not None:
        metadata["kind"] = "transfer"
        for role, name in (("extractor", "last"), ("head", "dot"), ("strategy", strategy)):
            metadata["components"][role] = {"name": name, "config": {}}
    tensors = {"encoder.payload": np.frombuffer(payload, dtype=np.uint8).copy()}
    return save(tensors, metadata={"recgraft": json.dumps(metadata)})


@pytest.fixture
def checkpoint_bytes() -> Callable[..., bytes]:
    """``checkpoint_bytes(payload=b"", encoder="transformer", strategy=None, items=...)``: the
    bytes of a small valid checkpoint for registry tests (see :func:`fake_checkpoint`)."""
    return fake_checkpoint
