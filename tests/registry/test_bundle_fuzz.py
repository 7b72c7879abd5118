"""Property: ``registry import`` of any crafted bundle either imports a checkpoint that then
works, or exits 2 with one line and leaves the registry exactly as it was.

The crafted bundles are well-formed tar files whose record matches the checkpoint's size
and sha256 (so the digest check passes) but whose contents are hostile: arbitrary bytes, a
safetensors file with crafted metadata or tensor shapes, a truncated checkpoint, or a
record with a field replaced by arbitrary JSON.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import struct
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recgraft.cli import build_cli

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
HUGE = st.integers(min_value=0, max_value=2**64)


@functools.cache
def _read_members(bundle: Path) -> tuple[bytes, bytes]:
    """The manifest's and the checkpoint's bytes, read once per bundle (not once per example)."""
    with tarfile.open(bundle, mode="r:*") as tar:
        raw = tar.extractfile("recgraft-bundle.json").read()  # type: ignore[union-attr]
        data = tar.extractfile(json.loads(raw)["file"]).read()  # type: ignore[union-attr]
    return raw, data


def _members(bundle: Path) -> tuple[dict[str, Any], bytes]:
    """A fresh copy of the bundle's manifest (the tests edit it) and its checkpoint's bytes."""
    raw, data = _read_members(bundle)
    return json.loads(raw), data


def _split_safetensors(data: bytes) -> tuple[dict[str, Any], bytes]:
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def _join_safetensors(header: dict[str, Any], body: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def _write(path: Path, manifest: dict[str, Any], payload: bytes) -> Path:
    """A bundle carrying ``payload`` whose record says its true size and sha256."""
    digest = hashlib.sha256(payload).hexdigest()
    manifest = json.loads(json.dumps(manifest))
    manifest["file"] = f"checkpoint/{digest}.safetensors"
    if isinstance(manifest.get("checkpoint"), dict):
        manifest["checkpoint"].update(digest=digest, size=len(payload))
    with tarfile.open(path, mode="w") as tar:
        for name, data in (
            ("recgraft-bundle.json", json.dumps(manifest).encode()),
            (manifest["file"], payload),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(build_cli(), list(args))


def _snapshot(home: Path) -> tuple[str, list[str]]:
    listed = _invoke("registry", "list", "--json")
    assert listed.exit_code == 0, listed.output
    files = sorted(
        str(p.relative_to(home))
        for p in home.rglob("*")
        if p.is_file() and "checkpoints" in p.parts
    )
    return listed.stdout, files


@pytest.fixture
def home(isolated_home: Path, tiny_bundles: list[Path]) -> Path:
    """A registry with the first tiny checkpoint in it."""
    assert _invoke("registry", "import", str(tiny_bundles[0])).exit_code == 0
    return isolated_home


def _check_import(home: Path, bundle: Path, items: list[str] | None) -> int:
    """Import ``bundle``; on success the checkpoint must recommend, on failure nothing changes."""
    before = _snapshot(home)
    result = _invoke("registry", "import", str(bundle), "--json")
    if result.exit_code == 0:
        reference = json.loads(result.stdout)["imported"]["reference"]
        assert items, "a checkpoint without items was imported"
        used = _invoke("recommend", reference, "--history", items[1], "-k", "3")
        assert used.exit_code == 0, f"imported {reference}, which then fails: {used.output}"
        return 0
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert _snapshot(home) == before
    return 2


@FUZZ
@given(payload=st.binary(max_size=300))
def test_arbitrary_bytes_are_refused(
    home: Path, tiny_bundles: list[Path], tmp_path: Path, payload: bytes
) -> None:
    manifest, _ = _members(tiny_bundles[1])
    assert _check_import(home, _write(tmp_path / "b.tar", manifest, payload), None) == 2


@FUZZ
@given(data=st.data())
def test_crafted_checkpoint_metadata_imports_a_working_model_or_is_refused(
    home: Path, tiny_bundles: list[Path], tmp_path: Path, data: st.DataObject
) -> None:
    manifest, real = _members(tiny_bundles[1])
    header, body = _split_safetensors(real)
    metadata = json.loads(header["__metadata__"]["recgraft"])
    key = data.draw(st.sampled_from(sorted(metadata)), label="metadata key")
    if data.draw(st.booleans(), label="delete"):
        del metadata[key]
    else:
        metadata[key] = data.draw(JSON, label="value")
    header["__metadata__"]["recgraft"] = json.dumps(metadata)
    items = metadata.get("items")
    items = (
        items
        if isinstance(items, list) and len(items) > 1 and all(isinstance(i, str) for i in items)
        else None
    )
    _check_import(
        home, _write(tmp_path / "b.tar", manifest, _join_safetensors(header, body)), items
    )


@FUZZ
@given(data=st.data())
def test_crafted_tensor_shapes_and_truncation_are_refused(
    home: Path, tiny_bundles: list[Path], tmp_path: Path, data: st.DataObject
) -> None:
    manifest, real = _members(tiny_bundles[1])
    header, body = _split_safetensors(real)
    name = data.draw(
        st.sampled_from(sorted(k for k in header if k != "__metadata__")), label="tensor"
    )
    if data.draw(st.booleans(), label="truncate"):
        payload = real[: data.draw(st.integers(0, len(real) - 1), label="length")]
    else:
        shape = header[name]["shape"]
        header[name]["shape"] = data.draw(st.lists(HUGE, min_size=0, max_size=4), label="shape")
        if header[name]["shape"] == shape:
            header[name]["shape"] = [*shape, 2]
        payload = _join_safetensors(header, body)
    assert _check_import(home, _write(tmp_path / "b.tar", manifest, payload), None) == 2


@FUZZ
@given(data=st.data())
def test_a_crafted_record_imports_or_is_refused_in_one_line(
    home: Path, tiny_bundles: list[Path], tmp_path: Path, data: st.DataObject
) -> None:
    manifest, real = _members(tiny_bundles[1])
    record = manifest["checkpoint"]
    key = data.draw(
        st.sampled_from(sorted(k for k in record if k not in ("digest", "size"))), label="field"
    )
    record[key] = data.draw(JSON, label="value")
    metadata = json.loads(_split_safetensors(real)[0]["__metadata__"]["recgraft"])
    _check_import(home, _write(tmp_path / "b.tar", manifest, real), metadata["items"])
