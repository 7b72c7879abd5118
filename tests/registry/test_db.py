from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from recgraft.registry import Registry, RegistryError
from recgraft.registry import db as registry_db


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("not a url", "not a database URL"),
        ("nosuchdb://host/x", "cannot use the database URL nosuchdb://host/x"),
    ],
)
def test_bad_database_url_is_a_registry_error(tmp_path: Path, url: str, match: str) -> None:
    with pytest.raises(RegistryError, match=match):
        Registry.open(url=url, store=tmp_path / "c")


def test_missing_postgres_driver_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
    with pytest.raises(RegistryError, match=r"driver .* not installed .*recgraft\[postgres\]"):
        Registry.open(url="postgresql://u:pw@127.0.0.1/x", store=tmp_path / "c")


def test_postgresql_url_without_a_driver_uses_psycopg() -> None:
    pytest.importorskip("psycopg")
    engine = registry_db.make_engine("postgresql://u:pw@127.0.0.1/x")  # connects lazily
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    url = "postgresql+psycopg://recgraft:s3cret@127.0.0.1:1/nowhere"  # nothing listens on port 1
    with pytest.raises(RegistryError) as info:
        Registry.open(url=url, store=tmp_path / "c")
    message = str(info.value)
    assert message.startswith(
        "cannot open the registry database postgresql+psycopg://recgraft:***@"
    )
    assert "s3cret" not in message and "\n" not in message


def test_store_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECGRAFT_CHECKPOINTS", raising=False)
    assert registry_db.resolve_store(None, tmp_path) == tmp_path / "checkpoints"
    monkeypatch.setenv("RECGRAFT_CHECKPOINTS", "memory://from-env")
    assert registry_db.resolve_store(None, tmp_path) == "memory://from-env"
    with registry_db.default_store("memory://from-cli"):
        assert registry_db.resolve_store(None, tmp_path) == "memory://from-cli"
        assert registry_db.resolve_store("s3://given/x", tmp_path) == "s3://given/x"
    assert registry_db.resolve_store(None, tmp_path) == "memory://from-env"


def test_writers_of_one_name_take_turns_on_postgresql(
    tmp_path: Path, new_postgres_url: Callable[[], str]
) -> None:
    with Registry.open(url=new_postgres_url(), store=tmp_path / "c") as reg:
        done = threading.Event()

        def register() -> None:
            reg.register("shared", b"weights", domain="d", encoder="e", encoder_config={})
            done.set()

        with reg.engine.begin() as conn:  # another writer of "shared", mid-transaction
            registry_db.lock_until_commit(conn, "recgraft.registry.name:shared")
            worker = threading.Thread(target=register)
            worker.start()
            assert not done.wait(0.5)  # blocked on the lock, not racing for the version
            # A writer of another name does not wait.
            reg.register("other", b"weights", domain="d", encoder="e", encoder_config={})
        worker.join(timeout=30)
        assert done.is_set() and reg.resolve("shared").version == 1


def test_schema_lock_is_a_transaction_lock_on_postgresql(
    new_postgres_url: Callable[[], str],
) -> None:
    engine = registry_db.make_engine(new_postgres_url())
    key = registry_db.advisory_key(registry_db.SCHEMA_LOCK)
    try_lock = text("SELECT pg_try_advisory_xact_lock(:key)")
    with engine.connect() as holder, engine.connect() as other:
        with holder.begin():
            registry_db.lock_until_commit(holder, registry_db.SCHEMA_LOCK)
            with other.begin():
                assert other.execute(try_lock, {"key": key}).scalar() is False
        with other.begin():  # released at the holder's commit
            assert other.execute(try_lock, {"key": key}).scalar() is True
    engine.dispose()
