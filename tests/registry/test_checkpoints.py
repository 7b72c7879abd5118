from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from recgraft.registry import CheckpointIntegrityError, CheckpointStore, Registry
from recgraft.registry.files.base import sha256_hex, uri_to_path


def test_put_is_content_addressed(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "ckpt")
    digest, size, uri = store.put(b"hello")
    assert digest == sha256_hex(b"hello") and size == 5
    path = uri_to_path(uri)
    assert path == tmp_path / "ckpt" / digest[:2] / f"{digest}.safetensors"
    assert uri.startswith("file:///") and path.read_bytes() == b"hello"
    assert store.put(b"hello") == (digest, size, uri)  # written once
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    assert store.read(uri, digest, size) == b"hello"


def test_put_repairs_a_tampered_file_of_the_same_name(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    digest, size, uri = store.put(b"hello")
    uri_to_path(uri).write_bytes(b"jello")
    store.put(b"hello")
    assert store.read(uri, digest, size) == b"hello"


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_tampered_file_fails_to_load_and_verify_reports_it(make: Any, registry: Registry) -> None:
    rec = make(registry, data=b"0123456789" * 10)
    _flip_a_byte(uri_to_path(rec.uri))
    with pytest.raises(CheckpointIntegrityError, match="tampered") as info:
        registry.read_bytes(rec.reference)
    assert "\n" not in str(info.value) and rec.reference in str(info.value)
    report = registry.verify()
    assert not report.ok and report.missing == []
    assert [(p.reference, p.problem) for p in report.mismatched] == [
        (rec.reference, "digest mismatch")
    ]


def test_truncated_file_is_a_size_mismatch(make: Any, registry: Registry) -> None:
    rec = make(registry, data=b"0123456789")
    uri_to_path(rec.uri).write_bytes(b"01234")
    with pytest.raises(CheckpointIntegrityError, match="5 bytes"):
        registry.read_bytes(rec)
    assert [p.problem for p in registry.verify().mismatched] == ["size mismatch"]


def test_missing_file_fails_to_load_and_verify_reports_it(make: Any, registry: Registry) -> None:
    rec = make(registry)
    uri_to_path(rec.uri).unlink()
    with pytest.raises(CheckpointIntegrityError, match="missing"):
        registry.read_bytes(rec)
    report = registry.verify()
    assert [(p.reference, p.problem) for p in report.missing] == [(rec.reference, "missing")]


def test_verify_finds_and_cleans_orphans(make: Any, registry: Registry) -> None:
    rec = make(registry)
    _, _, orphan = registry.store.put(b"nobody points here")
    (registry.store.root / "README").write_text("not ours")  # unrelated files are left alone
    report = registry.verify()
    assert report.checked == 1 and report.orphans == [orphan] and not report.ok
    cleaned = registry.verify(clean=True)
    assert cleaned.removed_orphans == [orphan] and cleaned.ok
    assert not uri_to_path(orphan).exists() and uri_to_path(rec.uri).exists()
    assert (registry.store.root / "README").exists()
    assert registry.verify().ok


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_put_writes_files_with_the_umask_applied(tmp_path: Path, umask: int, mode: int) -> None:
    store = CheckpointStore(tmp_path / "store")
    old = os.umask(umask)
    try:
        digest, _, uri = store.put(b"weights")
    finally:
        os.umask(old)
    path = uri_to_path(uri)
    assert stat.S_IMODE(path.stat().st_mode) == mode and path.read_bytes() == b"weights"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_verify_flags_a_file_that_matches_its_digest_but_is_no_checkpoint(
    make: Any, registry: Registry
) -> None:
    from sqlalchemy import update

    from recgraft.registry.models import SqlCheckpoint

    rec = make(registry)
    pickled = b"\x80\x04\x95 a pickle, not safetensors"
    path = uri_to_path(rec.uri)
    path.write_bytes(pickled)  # as if imported before the registry checked the format
    with registry.session_scope() as session:
        session.execute(
            update(SqlCheckpoint)
            .where(SqlCheckpoint.id == rec.id)
            .values(digest=sha256_hex(pickled), size=len(pickled))
        )
    report = registry.verify()
    assert not report.ok
    assert [(p.reference, p.problem) for p in report.mismatched] == [
        (rec.reference, "not a checkpoint")
    ]
    assert "not a recgraft checkpoint" in report.mismatched[0].detail


def test_opening_for_writing_checks_the_store_first(tmp_path: Path) -> None:
    from recgraft.registry import RegistryError

    plain = tmp_path / "plain"
    plain.write_text("x")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    for store in (plain, plain / "deeper" / "store"):
        with pytest.raises(RegistryError, match=f"{plain} is not a folder"):
            Registry.open(url=url, store=store, writable=True)
    Registry.open(url=url, store=tmp_path / "new" / "store", writable=True).close()
    assert not (tmp_path / "new").exists()  # checked, not created
