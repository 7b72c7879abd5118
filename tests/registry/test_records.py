"""The record's fields are listed once (CheckpointRecord); columns, listings and bundle imports
derive theirs from it, so a field added there reaches all of them or fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recgraft.registry import CheckpointRecord, Registry
from recgraft.registry.bundle import imported_fields
from recgraft.registry.records import COLUMN_FIELDS, DERIVED_FIELDS, WRITTEN_FIELDS, write_record


def test_every_record_field_is_a_column_or_derived() -> None:
    assert set(COLUMN_FIELDS) | set(DERIVED_FIELDS) == set(CheckpointRecord.model_fields)
    assert not set(COLUMN_FIELDS) & set(DERIVED_FIELDS)
    assert set(WRITTEN_FIELDS) <= set(COLUMN_FIELDS)


def test_listing_gives_exactly_the_record_fields(make: Any, registry: Registry) -> None:
    record = make(registry, metrics={"ndcg@10": 0.5}, tags=["t"], aliases=["prod"])
    (listed,) = registry.list_dicts()
    assert set(listed) == set(CheckpointRecord.model_fields)
    assert CheckpointRecord.model_validate(listed) == record == registry.resolve(record.reference)


def test_registering_and_importing_write_through_one_function(
    make: Any, registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import recgraft.registry.store as store

    calls: list[str] = []

    def counting(session: Any, new: Any, file: Any) -> CheckpointRecord:
        calls.append(new.name)
        return write_record(session, new, file)

    monkeypatch.setattr(store, "write_record", counting)
    record = make(registry, extra={"epochs": 3})
    bundle = registry.export_bundle(record.reference, tmp_path / "b.tar")
    with Registry.open(url="sqlite://", store=tmp_path / "other") as other:
        imported = other.import_bundle(bundle)
    assert calls == [record.name, record.name]
    assert {f: getattr(imported, f) for f in WRITTEN_FIELDS} == imported_fields(record)
