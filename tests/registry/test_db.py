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
    assert registry_db.resolve_store("s3://given/x", tmp_path) == "s3://given/x"  # --store
    assert registry_db.resolve_store(None, tmp_path) == "memory://from-env"


def test_writers_of_one_name_take_turns_on_postgresql(
    tmp_path: Path, new_postgres_url: Callable[[], str], checkpoint_bytes: Callable[..., bytes]
) -> None:
    weights = checkpoint_bytes(b"weights", encoder="e")
    with Registry.open(url=new_postgres_url(), store=tmp_path / "c") as reg:
        done = threading.Event()

        def register() -> None:
            reg.register("shared", weights, domain="d", encoder="e", encoder_config={})
            done.set()

        with reg.engine.begin() as conn:  # another writer of "shared", mid-transaction
            registry_db.lock_until_commit(conn, "recgraft.registry.name:shared")
            worker = threading.Thread(target=register)
            worker.start()
            assert not done.wait(0.5)  # blocked on the lock, not racing for the version
            # A writer of another name does not wait.
            reg.register("other", weights, domain="d", encoder="e", encoder_config={})
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


def _foreign_sqlite(path: Path) -> bytes:
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
        conn.execute("INSERT INTO users (email) VALUES ('a@example.com')")
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize("options", [{}, {"create": False}, {"upgrade": True}])
def test_a_foreign_database_is_refused_and_left_untouched(tmp_path: Path, options: dict) -> None:
    from recgraft.registry import SchemaOutOfDateError

    (tmp_path / "w").mkdir()
    path = tmp_path / "w" / "app.db"
    before = _foreign_sqlite(path)
    with pytest.raises(SchemaOutOfDateError, match="not made by recgraft"):
        Registry.open(url=f"sqlite:///{path}", store=tmp_path / "c", **options)
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == ["app.db"]


def test_opening_without_create_never_creates_a_database_or_folders(tmp_path: Path) -> None:
    from recgraft.registry import NoRegistryError

    tmp_path = tmp_path / "w"
    tmp_path.mkdir()
    missing = tmp_path / "no" / "such" / "dir" / "x.db"
    with pytest.raises(NoRegistryError, match=f"no registry at {missing}"):
        Registry.open(url=f"sqlite:///{missing}", store=tmp_path / "c", create=False)
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(NoRegistryError, match="no registry in the database"):
        Registry.open(url=f"sqlite:///{empty}", store=tmp_path / "c", create=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"] and empty.stat().st_size == 0


def test_a_registry_folder_that_cannot_be_made_is_a_registry_error(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    with pytest.raises(RegistryError, match="cannot create the registry folder"):
        Registry.open(url=f"sqlite:///{tmp_path / 'plain' / 'sub' / 'x.db'}", store=tmp_path / "c")
