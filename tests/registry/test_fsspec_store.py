"""Checkpoint files on fsspec URLs: ``memory://`` in one process, ``local://`` (fsspec's
LocalFileSystem) across processes; the database is each backend in turn."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from recgraft.registry import (
    CheckpointIntegrityError,
    CheckpointStore,
    NotFoundError,
    Registry,
    RegistryError,
    open_store,
)
from recgraft.registry.files import fsspec as fsspec_store
from recgraft.registry.files.base import sha256_hex
from recgraft.registry.files.fsspec import FsspecCheckpointStore

pytest.importorskip("fsspec", reason="fsspec is not installed: pip install 'recgraft[storage]'")


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A fresh ``memory://`` store URL (the memory filesystem is shared by the process)."""
    url = f"memory://recgraft-test-{uuid.uuid4().hex[:12]}/checkpoints"
    yield url
    store = FsspecCheckpointStore(url)
    if store.fs.exists(store.root):
        store.fs.rm(store.root, recursive=True)


@pytest.fixture
def store(memory_url: str) -> FsspecCheckpointStore:
    return FsspecCheckpointStore(memory_url)


@pytest.fixture
def shared_registry(registry_url: str, memory_url: str, tmp_path: Path) -> Iterator[Registry]:
    reg = Registry.open(url=registry_url, home=tmp_path / "machine-a", store=memory_url)
    yield reg
    reg.close()


def test_put_is_content_addressed(store: FsspecCheckpointStore) -> None:
    digest, size, uri = store.put(b"hello")
    assert digest == sha256_hex(b"hello") and size == 5
    assert uri == f"{store.location}/{digest[:2]}/{digest}.safetensors"
    assert uri.startswith("memory:///recgraft-test-")
    assert store.put(b"hello") == (digest, size, uri)  # written once
    assert store.fs.ls(f"{store.root}/{digest[:2]}", detail=False) == [uri[len("memory://") :]]
    assert store.read(uri, digest, size) == b"hello"


def test_put_repairs_a_tampered_file_of_the_same_name(store: FsspecCheckpointStore) -> None:
    digest, size, uri = store.put(b"hello")
    store.fs.pipe_file(store.path_for(digest), b"jello")
    store.put(b"hello")
    assert store.read(uri, digest, size) == b"hello"


def test_object_stores_write_in_place_others_write_then_move(
    store: FsspecCheckpointStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    moves: list[tuple[str, str]] = []
    real_mv = store.fs.mv
    monkeypatch.setattr(store.fs, "mv", lambda a, b: (moves.append((a, b)), real_mv(a, b)))
    digest, _, _ = store.put(b"moved into place")
    assert [(a.rsplit("/", 1)[1][:5], b) for a, b in moves] == [(".tmp-", store.path_for(digest))]
    store.atomic_writes = True  # as for s3://, gs://, ...
    moves.clear()
    digest, size, uri = store.put(b"written in place")
    assert moves == [] and store.read(uri, digest, size) == b"written in place"


@pytest.mark.parametrize("damage", ["tamper", "truncate", "delete"])
def test_reads_are_verified(shared_registry: Registry, make: Any, damage: str) -> None:
    rec = make(shared_registry, data=b"0123456789" * 10)
    store = shared_registry.store
    assert isinstance(store, FsspecCheckpointStore) and rec.uri.startswith("memory://")
    path = store.path_for(rec.digest)
    if damage == "delete":
        store.fs.rm_file(path)
    else:
        store.fs.pipe_file(path, b"X" * rec.size if damage == "tamper" else b"01234")
    match = {"tamper": "tampered", "truncate": "5 bytes", "delete": "missing"}[damage]
    with pytest.raises(CheckpointIntegrityError, match=match):
        shared_registry.read_bytes(rec)
    report = shared_registry.verify()
    problems = [(p.reference, p.problem) for p in report.missing + report.mismatched]
    expected = {"tamper": "digest mismatch", "truncate": "size mismatch", "delete": "missing"}
    assert problems == [(rec.reference, expected[damage])]


def test_two_machines_share_one_database_and_one_store(
    shared_registry: Registry,
    make: Any,
    registry_url: str,
    memory_url: str,
    tmp_path: Path,
    checkpoint_bytes: Any,
) -> None:
    pre = make(shared_registry, "pre", data=b"pretrained", aliases=["prod"])
    with Registry.open(url=registry_url, home=tmp_path / "machine-b", store=memory_url) as b:
        assert b.resolve("pre@prod").uri == pre.uri
        assert b.read_bytes("pre@prod") == checkpoint_bytes(b"pretrained")
        child = make(b, "ft", data=b"finetuned", parents=[("pre@prod", "finetune")])
        assert b.verify().ok
    assert shared_registry.read_bytes(child.reference) == checkpoint_bytes(b"finetuned")
    assert shared_registry.lineage("pre").descendants == ["ft@1"]
    shared_registry.remove("ft@1")
    assert not shared_registry.store.fs.exists(shared_registry.store.path_for(child.digest))
    with pytest.raises(NotFoundError):
        shared_registry.resolve("ft")


WRITER = textwrap.dedent(
    """
    import sys
    from recgraft.registry import Registry

    url, home, store, data = sys.argv[1:5]
    with Registry.open(url=url, home=home, store=store) as reg:
        rec = reg.register("pre", open(data, "rb").read(), domain="ml-1m", encoder="transformer",
                           encoder_config={"d": 8})
    print(rec.uri)
    """
)


def test_a_record_written_by_another_process_reads_here(
    registry_url: str, tmp_path: Path, run_python: Callable[..., Any], checkpoint_bytes: Any
) -> None:
    store_url = f"local://{tmp_path / 'shared-storage'}"
    data = tmp_path / "checkpoint.safetensors"
    data.write_bytes(checkpoint_bytes(b"written elsewhere"))
    result = run_python(WRITER, args=[registry_url, str(tmp_path / "machine-a"), store_url, str(data)])
    assert result.returncode == 0, result.stderr
    uri = result.stdout.strip()
    assert uri.startswith(f"local://{tmp_path / 'shared-storage'}/")
    with Registry.open(url=registry_url, home=tmp_path / "machine-b", store=store_url) as reg:
        record = reg.resolve("pre")
        assert record.uri == uri and reg.read_bytes(record) == data.read_bytes()
        assert reg.verify().ok
    assert not (tmp_path / "machine-b" / "checkpoints").exists()


def test_young_unreferenced_files_are_not_orphans_yet(shared_registry: Registry) -> None:
    store = shared_registry.store
    assert isinstance(store, FsspecCheckpointStore)
    _, _, uri = store.put(b"a write in flight on another machine")
    report = shared_registry.verify(clean=True)
    assert report.ok and report.orphans == []
    store.orphan_grace_s = 0.0
    cleaned = shared_registry.verify(clean=True)
    assert cleaned.orphans == [uri] and cleaned.removed_orphans == [uri]
    assert not store.fs.exists(store.path_for(sha256_hex(b"a write in flight on another machine")))


def test_stale_temporary_files_are_orphans(
    shared_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = shared_registry.store
    assert isinstance(store, FsspecCheckpointStore)
    store.fs.pipe_file(f"{store.root}/ab/.tmp-deadbeef.safetensors", b"half a write")
    assert shared_registry.verify().orphans == []  # may still be in flight
    monkeypatch.setattr(fsspec_store, "STALE_TEMP_SECONDS", -1.0)
    tmp_uri = f"{store.location}/ab/.tmp-deadbeef.safetensors"
    assert shared_registry.verify(clean=True).removed_orphans == [tmp_uri]


def test_plain_paths_and_file_urls_use_the_local_store(tmp_path: Path, memory_url: str) -> None:
    assert isinstance(open_store(tmp_path / "a"), CheckpointStore)
    local = open_store((tmp_path / "b").as_uri())
    assert isinstance(local, CheckpointStore) and local.root == (tmp_path / "b").resolve()
    assert isinstance(open_store(memory_url), FsspecCheckpointStore)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("nosuchfs://bucket/x", "Protocol not known: nosuchfs"),
        ("simplecache::memory://x", "chained fsspec URLs"),
    ],
)
def test_bad_store_urls_are_registry_errors(tmp_path: Path, url: str, match: str) -> None:
    with pytest.raises(RegistryError, match=match):
        Registry.open(url=f"sqlite:///{tmp_path / 'r.db'}", store=url)
    assert not (tmp_path / "r.db").exists()  # refused before touching the database


def test_protocol_without_its_package_is_a_registry_error(tmp_path: Path) -> None:
    if importlib.util.find_spec("s3fs") is not None:
        pytest.skip("s3fs is installed here")
    with pytest.raises(RegistryError, match="s3fs"):
        open_store("s3://bucket/checkpoints")


def test_missing_fsspec_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec.core", None)  # import fsspec.core now fails
    with pytest.raises(RegistryError, match=r"needs fsspec: pip install 'recgraft\[storage\]'"):
        open_store("memory://bucket/x")


def test_reading_an_unknown_scheme_is_a_registry_error(store: FsspecCheckpointStore) -> None:
    with pytest.raises(RegistryError, match="Protocol not known"):
        store.read("nosuchfs://bucket/ab/x.safetensors", "0" * 64, 1)
