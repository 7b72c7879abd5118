"""Verification: every live record's file checked, and files no record points to found.

A file is checked once however many records share it (same URI, sha256, size and
checkpoint kind): its size and sha256 against the record, then its header (a recgraft
checkpoint of the record's encoder and strategy). Unreferenced files are orphans unless the
store says a write may still be in flight; ``clean`` deletes the orphans.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from recgraft.registry.entities import FileProblem, VerifyReport
from recgraft.registry.errors import RegistryError
from recgraft.registry.files import Store
from recgraft.registry.files.base import check_file_format
from recgraft.registry.models import SqlCheckpoint
from recgraft.registry.references import format_reference

#: What verification reads of a live record.
LiveFile = tuple[str, int, str, str, int, str, str | None]


def live_files(session: Session) -> list[LiveFile]:
    """``(name, version, uri, digest, size, encoder, strategy)`` of every live record."""
    return [
        tuple(row)
        for row in session.execute(
            select(
                SqlCheckpoint.name,
                SqlCheckpoint.version,
                SqlCheckpoint.uri,
                SqlCheckpoint.digest,
                SqlCheckpoint.size,
                SqlCheckpoint.encoder,
                SqlCheckpoint.strategy,
            )
            .where(SqlCheckpoint.removed_at.is_(None))
            .order_by(SqlCheckpoint.id)
        )
    ]


def verify_files(store: Store, rows: list[LiveFile], clean: bool = False) -> VerifyReport:
    """Check the files of ``rows`` (:func:`live_files`) and find ``store``'s orphans (the
    caller holds ``store.deleting()`` when ``clean``)."""
    report = VerifyReport()
    checked: dict[tuple[str, str, int, str, str | None], tuple[str, str] | None] = {}
    for name, version, uri, digest, size, encoder, strategy in rows:
        report.checked += 1
        key = (uri, digest, size, encoder, strategy)
        if key not in checked:
            try:
                checked[key] = store.check(uri, digest, size) or check_file_format(
                    uri, size, encoder, strategy
                )
            except RegistryError as exc:
                checked[key] = ("missing", str(exc))
        problem = checked[key]
        if problem is None:
            continue
        entry = FileProblem(
            reference=format_reference(name, version),
            uri=uri,
            problem=problem[0],
            detail=problem[1],
        )
        (report.missing if problem[0] == "missing" else report.mismatched).append(entry)
    referenced = {row[3] for row in rows}
    for uri, digest in store.files():
        if digest is not None and (digest in referenced or not store.settled(uri)):
            continue
        report.orphans.append(uri)
        if clean:
            store.delete(uri)
            report.removed_orphans.append(uri)
    return report
