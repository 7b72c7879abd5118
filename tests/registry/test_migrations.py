from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from recgraft.registry import Registry, SchemaOutOfDateError
from recgraft.registry import db as registry_db
from recgraft.registry.models import Base


def _script() -> ScriptDirectory:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(registry_db.MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config)


def test_code_knows_the_migration_head() -> None:
    script = _script()
    assert script.get_current_head() == registry_db.SCHEMA_HEAD
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert tuple(revisions) == registry_db.KNOWN_REVISIONS


def test_migrations_never_import_orm_classes() -> None:
    for path in registry_db.MIGRATIONS_DIR.rglob("*.py"):
        source = path.read_text()
        assert "recgraft.registry.models" not in source and "Sql" not in source, path


NewUrl = Callable[[str], str]


def test_migrated_schema_matches_the_models(tmp_path: Path, new_database_url: NewUrl) -> None:
    with Registry.open(url=new_database_url("r"), store=tmp_path / "c") as reg:
        with reg.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # UTCDateTime is a TypeDecorator over DateTime: the same column type on disk.
    assert [d for d in diff if not (isinstance(d, list) and d[0][0] == "modify_type")] == []


def test_older_schema_needs_an_upgrade(tmp_path: Path, new_database_url: NewUrl) -> None:
    url = new_database_url("r")
    engine = registry_db.make_engine(url)
    registry_db.run_migrations(engine, "0001")
    engine.dispose()
    with pytest.raises(SchemaOutOfDateError, match="recgraft registry upgrade"):
        Registry.open(url=url, store=tmp_path / "c")
    with Registry.open(url=url, store=tmp_path / "c", upgrade=True) as reg:
        assert reg.schema_revision() == registry_db.SCHEMA_HEAD
    Registry.open(url=url, store=tmp_path / "c").close()


def test_unknown_revision_is_refused(tmp_path: Path, new_database_url: NewUrl) -> None:
    url = new_database_url("r")
    Registry.open(url=url, store=tmp_path / "c").close()
    engine = registry_db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    engine.dispose()
    with pytest.raises(SchemaOutOfDateError, match="unknown revision ffff"):
        Registry.open(url=url, store=tmp_path / "c", upgrade=True)


def test_foreign_database_is_refused(tmp_path: Path, new_database_url: NewUrl) -> None:
    url = new_database_url("r")
    engine = registry_db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE checkpoints (x INTEGER)"))
    engine.dispose()
    with pytest.raises(SchemaOutOfDateError, match="not made by recgraft"):
        Registry.open(url=url, store=tmp_path / "c")


def test_a_failed_migration_leaves_no_partial_schema_on_postgresql(
    tmp_path: Path, new_postgres_url: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's DDL is transactional: creation happens whole or not at all."""
    url = new_postgres_url()

    def broken(bind: object, revision: str = "head") -> None:
        real_run_migrations(bind, revision)
        raise RuntimeError("migration failed half-way")

    real_run_migrations = registry_db.run_migrations
    monkeypatch.setattr(registry_db, "run_migrations", broken)
    with pytest.raises(RuntimeError, match="half-way"):
        Registry.open(url=url, store=tmp_path / "c")
    monkeypatch.setattr(registry_db, "run_migrations", real_run_migrations)
    engine = registry_db.make_engine(url)
    assert registry_db.current_revision(engine) == (None, False)
    engine.dispose()
    with Registry.open(url=url, store=tmp_path / "c") as reg:
        assert reg.schema_revision() == registry_db.SCHEMA_HEAD


# Eight processes creating a fresh database at once: test_concurrency.py (its workers open it together).
