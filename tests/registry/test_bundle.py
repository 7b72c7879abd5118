from __future__ import annotations

import io
import json
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recgraft.registry import (
    BundleError,
    CheckpointIntegrityError,
    InvalidCheckpointError,
    Registry,
    RegistryError,
)


@pytest.fixture
def other(tmp_path: Path, new_database_url: Callable[[str], str]) -> Iterator[Registry]:
    reg = Registry.open(url=new_database_url("other"), store=tmp_path / "other-ckpt")
    yield reg
    reg.close()


def test_export_import_round_trip_relinks_parents(
    make: Any,
    registry: Registry,
    other: Registry,
    tmp_path: Path,
    new_database_url: Callable[[str], str],
) -> None:
    pre = make(registry, "pre", data=b"pretrained")
    child = make(
        registry,
        "ft",
        domain="ml-100k",
        strategy="finetune",
        parents=[("pre@1", "finetune")],
        tags=["gold"],
        metrics={"hr@10": 0.3},
    )
    bundle = registry.export_bundle("ft", tmp_path / "ft.tar")
    assert bundle.is_file()
    with tarfile.open(bundle) as tar:
        manifest = json.load(tar.extractfile("recgraft-bundle.json"))  # type: ignore[arg-type]
    assert manifest["checkpoint"]["reference"] == "ft@1"
    assert [a["reference"] for a in manifest["ancestors"]] == ["pre@1"]

    # Without the parent in the target registry: the edge keeps the reference, marked missing.
    imported = other.import_bundle(bundle)
    assert (imported.reference, imported.digest, imported.metrics, imported.tags) == (
        "ft@1",
        child.digest,
        {"hr@10": 0.3},
        ["gold"],
    )
    assert imported.parents == [("pre@1", "finetune")]
    assert other.lineage("ft").node("pre@1").missing
    assert other.read_bytes("ft") == registry.read_bytes("ft")
    assert other.import_bundle(bundle).id == imported.id  # idempotent

    # With the parent imported first, the child links to it.
    third = Registry.open(url=new_database_url("third"), store=tmp_path / "third-ckpt")
    third.import_bundle(registry.export_bundle("pre", tmp_path))
    linked = third.import_bundle(bundle)
    graph = third.lineage(linked.reference)
    assert graph.ancestors == ["pre@1"] and not graph.node("pre@1").missing
    assert third.resolve("pre").digest == pre.digest
    third.close()


def test_tampered_bundle_is_refused(
    make: Any, registry: Registry, other: Registry, tmp_path: Path
) -> None:
    make(registry, "pre", data=b"pretrained")
    bundle = registry.export_bundle("pre", tmp_path / "pre.tar")
    with tarfile.open(bundle) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        for name, data in members.items():
            if name.startswith("checkpoint/"):
                data = b"Pretrained"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(CheckpointIntegrityError):
        other.import_bundle(bad)
    assert other.list() == [] and other.verify().orphans == []


def test_not_a_bundle(other: Registry, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar file")
    with pytest.raises(BundleError):
        other.import_bundle(junk)
    with pytest.raises(BundleError, match="no such"):
        other.import_bundle(tmp_path / "absent.tar")


def test_export_refuses_an_existing_file_unless_forced(
    make: Any, registry: Registry, tmp_path: Path
) -> None:
    make(registry, "pre")
    target = tmp_path / "out.tar"
    target.write_bytes(b"keep me")
    with pytest.raises(BundleError, match="already exists"):
        registry.export_bundle("pre", target)
    assert target.read_bytes() == b"keep me"
    registry.export_bundle("pre", target, force=True)
    assert tarfile.is_tarfile(target)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_export_never_replaces_a_non_regular_file(
    make: Any, registry: Registry, tmp_path: Path
) -> None:
    make(registry, "pre")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link.tar"
    link.symlink_to(tmp_path / "elsewhere.tar")
    for target in (fifo, link):
        with pytest.raises(BundleError, match="not a regular file"):
            registry.export_bundle("pre", target, force=True)
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink()


def test_export_under_a_regular_file_is_a_bundle_error(
    make: Any, registry: Registry, tmp_path: Path
) -> None:
    make(registry, "pre")
    (tmp_path / "plain").write_text("x")
    with pytest.raises(BundleError, match="cannot create its folder"):
        registry.export_bundle("pre", tmp_path / "plain" / "sub" / "out.tar")


def test_export_writes_a_normal_file_under_the_umask(
    make: Any, registry: Registry, tmp_path: Path
) -> None:
    make(registry, "pre")
    old = os.umask(0o027)
    try:
        bundle = registry.export_bundle("pre", tmp_path / "out.tar")
    finally:
        os.umask(old)
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o640


def _manifest(registry: Registry, ref: str, tmp_path: Path) -> dict[str, Any]:
    bundle = registry.export_bundle(ref, tmp_path / f"{ref}-exported.tar", force=True)
    with tarfile.open(bundle) as tar:
        return json.load(tar.extractfile("recgraft-bundle.json"))  # type: ignore[arg-type]


def _write_bundle(path: Path, manifest: Any, members: dict[str, bytes], mode: str = "w") -> Path:
    """A bundle file written by hand: the manifest (JSON unless bytes) and other members."""
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        text = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
        for name, data in {"recgraft-bundle.json": text, **members}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _with_file(manifest: dict[str, Any], data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest re-pointed at ``data`` (digest and size matching), and its members."""
    from recgraft.registry.files.base import sha256_hex

    digest = sha256_hex(data)
    member = f"checkpoint/{digest}.safetensors"
    record = {**manifest["checkpoint"], "digest": digest, "size": len(data)}
    return {**manifest, "checkpoint": record, "file": member}, {member: data}


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x04\x95 a pickle whose sha256 matches the record",
        b"PK\x03\x04 not safetensors",
    ],
)
def test_import_refuses_a_file_that_is_not_a_checkpoint(
    make: Any, registry: Registry, other: Registry, tmp_path: Path, data: bytes
) -> None:
    make(registry, "pre")
    manifest, members = _with_file(_manifest(registry, "pre", tmp_path), data)
    bad = _write_bundle(tmp_path / "bad.tar", manifest, members)
    with pytest.raises(InvalidCheckpointError, match="bad.tar: cannot register pre: not a recgraft"):
        other.import_bundle(bad)
    assert other.list() == [] and list(other.store.files()) == []


def test_import_refuses_a_checkpoint_that_is_not_the_recorded_one(
    make: Any, registry: Registry, other: Registry, tmp_path: Path, checkpoint_bytes: Any
) -> None:
    make(registry, "pre")
    manifest, members = _with_file(_manifest(registry, "pre", tmp_path), checkpoint_bytes(encoder="gan"))
    bad = _write_bundle(tmp_path / "bad.tar", manifest, members)
    with pytest.raises(InvalidCheckpointError, match="holds encoder 'gan', the record says 'transformer'"):
        other.import_bundle(bad)
    assert other.list() == []


def test_import_streams_the_checkpoint_and_never_inflates_it_into_memory(
    make: Any, registry: Registry, other: Registry, tmp_path: Path
) -> None:
    import tracemalloc

    make(registry, "pre")
    inflated = bytes(32 * 1024 * 1024)  # a few kB once compressed
    manifest, members = _with_file(_manifest(registry, "pre", tmp_path), inflated)
    bomb = _write_bundle(tmp_path / "bomb.tar.gz", manifest, members, mode="w:gz")
    del inflated, members
    assert bomb.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(InvalidCheckpointError, match="bomb.tar.gz: cannot register pre"):
            other.import_bundle(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024 and other.list() == []


def test_import_refuses_a_member_larger_than_its_record_before_reading_it(
    make: Any, registry: Registry, other: Registry, tmp_path: Path
) -> None:
    make(registry, "pre")
    manifest = _manifest(registry, "pre", tmp_path)
    bomb = _write_bundle(
        tmp_path / "bomb.tar.gz", manifest, {manifest["file"]: bytes(8 * 1024 * 1024)}, mode="w:gz"
    )
    with pytest.raises(CheckpointIntegrityError, match=r"has 8388608 bytes, its record says \d+"):
        other.import_bundle(bomb)
    assert other.list() == []


def test_import_caps_the_manifest_and_refuses_other_members(
    make: Any, registry: Registry, other: Registry, tmp_path: Path
) -> None:
    make(registry, "pre")
    manifest = _manifest(registry, "pre", tmp_path)
    huge = json.dumps(manifest).encode() + b" " * (16 * 1024 * 1024)
    big = _write_bundle(tmp_path / "big.tar.gz", huge, {}, mode="w:gz")
    with pytest.raises(BundleError, match=r"'recgraft-bundle.json' has \d+ bytes \(at most 16777216\)"):
        other.import_bundle(big)
    extra = _write_bundle(tmp_path / "extra.tar", manifest, {"../../etc/passwd": b"x"})
    with pytest.raises(BundleError, match="'../../etc/passwd' is not part of a recgraft bundle"):
        other.import_bundle(extra)
    assert other.list() == []


def _set(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k not in changes or changes[k] is not ...}
    out.update({k: v for k, v in changes.items() if v is not ...})
    return out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: {**m, "checkpoint": _set(m["checkpoint"], size="big")},
         "bad bundle record: checkpoint.size: Input should be a valid integer"),
        (lambda m: {**m, "checkpoint": _set(m["checkpoint"], digest=...)},
         "bad bundle record: checkpoint.digest: Field required"),
        (lambda m: {**m, "checkpoint": _set(m["checkpoint"], size=None, created_at="x")},
         "bad bundle record: checkpoint.size: Input should be a valid integer (and 1 more)"),
        (lambda m: {**m, "checkpoint": _set(m["checkpoint"], parents=[["x@99999999999", "finetune"]])},
         "bad bundle record: checkpoint.parents.0: invalid reference"),
        (lambda m: {**m, "checkpoint": _set(m["checkpoint"], parents=[["pre@1", "a/b"]])},
         "bad bundle record: checkpoint.parents.0: invalid relation"),
        (lambda m: {**m, "checkpoint": _set(m["checkpoint"], name="a/b")}, "invalid name 'a/b'"),
        (lambda m: {k: v for k, v in m.items() if k != "checkpoint"}, "checkpoint: missing"),
        (lambda m: {**m, "ancestors": {"a": 1}}, "ancestors: not a list"),
        (lambda m: {**m, "ancestors": [{"name": "x"}]}, "bad bundle record: ancestors.0.id: Field required"),
        (lambda m: {**m, "format_version": 7}, "bundle format version 7 is not supported"),
        (lambda m: [m], "not a recgraft bundle"),
        (lambda m: {**m, "file": "checkpoint/../x"}, "file: bad checkpoint member name"),
    ],
)
def test_import_errors_are_one_line_naming_the_field(
    make: Any, registry: Registry, other: Registry, tmp_path: Path, change: Any, message: str
) -> None:
    make(registry, "pre")
    manifest = _manifest(registry, "pre", tmp_path)
    bundle = registry.export_bundle("pre", tmp_path / "good.tar")
    with tarfile.open(bundle) as tar:
        data = tar.extractfile(manifest["file"]).read()  # type: ignore[union-attr]
    bad = _write_bundle(tmp_path / "bad.tar", change(manifest), {manifest["file"]: data})
    with pytest.raises(RegistryError) as raised:
        other.import_bundle(bad)
    text = str(raised.value)
    assert message in text and "\n" not in text and text.startswith(f"{bad}: ")
    assert other.list() == []


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["name", "version", "domain", "encoder", "encoder_config", "parents", "tags",
                              "size", "digest", "created_at", "strategy", "extra", "aliases"]),
       value=JSON)
def test_any_record_value_imports_or_is_one_registry_error(
    make: Any, registry: Registry, other: Registry, tmp_path: Path, field: str, value: Any
) -> None:
    if not registry.names():
        make(registry, "pre")
    manifest = _manifest(registry, "pre", tmp_path)
    bundle = registry.export_bundle("pre", tmp_path / "good.tar", force=True)
    with tarfile.open(bundle) as tar:
        data = tar.extractfile(manifest["file"]).read()  # type: ignore[union-attr]
    changed = {**manifest, "checkpoint": {**manifest["checkpoint"], field: value}}
    bad = _write_bundle(tmp_path / "bad.tar", changed, {manifest["file"]: data})
    try:
        other.import_bundle(bad)
    except RegistryError as exc:
        assert "\n" not in str(exc)
