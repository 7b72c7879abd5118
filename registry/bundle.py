"""Bundles: one ``.tar`` file carrying a checkpoint's file, its record and its ancestry records.

Layout::

    recgraft-bundle.json                 {"format": "recgraft-bundle", "format_version": 1,
                                          "checkpoint": {...record...}, "ancestors": [...],
                                          "file": "checkpoint/<sha256>.safetensors"}
    checkpoint/<sha256>.safetensors      the checkpoint's bytes

Writing and reading bundles is this module's; the registry (:meth:`Registry.export_bundle`,
:meth:`Registry.import_bundle`) finds the records and writes the imported one.

Importing reads only those two members, the manifest first (nothing is extracted to disk by
name; the checkpoint is streamed to a temporary file, cut off at its recorded size), checks
the file's size, sha256 and checkpoint header against the record, registers it as the next version of its name in
this registry, and links each parent to the checkpoint here with the same name and digest;
a parent not found here stays in the lineage by its reference (marked missing).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any, BinaryIO, cast

from pydantic import ValidationError

from recgraft.registry.checkpoint_format import check_matches_record, read_checkpoint_header
from recgraft.registry.entities import CheckpointRecord
from recgraft.registry.errors import (
    BundleError,
    CheckpointIntegrityError,
    InvalidCheckpointError,
    InvalidReferenceError,
    OutputPathError,
)
from recgraft.registry.files.base import check_output_path, write_file_atomically
from recgraft.registry.records import WRITTEN_FIELDS, Parent
from recgraft.registry.references import parse_reference, validate_name

FORMAT = "recgraft-bundle"
FORMAT_VERSION = 1
MANIFEST = "recgraft-bundle.json"
_FILE_MEMBER = re.compile(r"checkpoint/[0-9a-f]{64}\.safetensors")
IMPORTED_FROM = "recgraft.imported_from"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024  # records of a checkpoint and its ancestry: far less
COPY_BLOCK = 1 << 20


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def bundle_path(path: Path, record: CheckpointRecord, force: bool = False) -> Path:
    """Where the bundle of ``record`` goes: ``path``, or ``NAME-VERSION.tar`` in the folder
    ``path``; :class:`BundleError` unless a file may be written there (checked before any work)."""
    path = path.expanduser()
    if path.is_dir():
        path = path / f"{record.name}-{record.version}.tar"
    try:
        check_output_path(path, replace=force)
    except OutputPathError as exc:
        raise BundleError(str(exc)) from None
    return path


def write_bundle(
    path: Path,
    record: CheckpointRecord,
    ancestors: list[CheckpointRecord],
    data: bytes,
    force: bool = False,
) -> Path:
    """Write the bundle of ``record`` (its verified ``data``, its ancestry records) at ``path``
    (from :func:`bundle_path`), whole or not at all."""
    member = f"checkpoint/{record.digest}.safetensors"
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "checkpoint": record.model_dump(mode="json"),
        "ancestors": [a.model_dump(mode="json") for a in ancestors],
        "file": member,
    }

    def write(tmp: Path) -> None:
        with tarfile.open(tmp, mode="w") as tar:
            _add(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            _add(tar, member, data)

    try:
        write_file_atomically(path, write, replace=force)
    except OutputPathError as exc:
        raise BundleError(str(exc)) from None
    except OSError as exc:
        raise BundleError(f"{path}: cannot write the bundle: {exc.strerror or exc}") from None
    return path


def _one_line(exc: ValidationError, where: str) -> str:
    """A pydantic error as one line naming the field: ``checkpoint.size: Input should be ...``."""
    errors = exc.errors()
    first = errors[0]
    field = ".".join([where, *(str(part) for part in first["loc"])])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{field}: {first['msg']}{more}"


def _record(value: object, where: str, path: Path) -> CheckpointRecord:
    """A record of the manifest, each of its parents' references checked."""
    try:
        record = CheckpointRecord.model_validate(value)
    except ValidationError as exc:
        raise BundleError(f"{path}: bad bundle record: {_one_line(exc, where)}") from None
    for i, (reference, relation) in enumerate(record.parents):
        try:
            parse_reference(reference)
            validate_name(relation, "relation")
        except InvalidReferenceError as exc:
            raise BundleError(f"{path}: bad bundle record: {where}.parents.{i}: {exc}") from None
    return record


def _manifest(data: bytes, path: Path) -> tuple[CheckpointRecord, list[CheckpointRecord], str]:
    """The record, ancestry records and checkpoint member name of a manifest."""
    try:
        manifest: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: {MANIFEST} is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: not a recgraft bundle ({MANIFEST} has no format {FORMAT!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format version {manifest.get('format_version')!r} is not supported "
            f"(this recgraft reads {FORMAT_VERSION})"
        )
    member = manifest.get("file")
    if not isinstance(member, str) or not _FILE_MEMBER.fullmatch(member):
        raise BundleError(f"{path}: bad bundle record: file: bad checkpoint member name {member!r}")
    if "checkpoint" not in manifest:
        raise BundleError(f"{path}: bad bundle record: checkpoint: missing")
    record = _record(manifest["checkpoint"], "checkpoint", path)
    ancestors = manifest.get("ancestors", [])
    if not isinstance(ancestors, list):
        raise BundleError(f"{path}: bad bundle record: ancestors: not a list")
    if member != f"checkpoint/{record.digest}.safetensors":
        raise BundleError(
            f"{path}: bad bundle record: file: {member!r} is not named by checkpoint.digest"
        )
    return record, [_record(a, f"ancestors.{i}", path) for i, a in enumerate(ancestors)], member


def _copy_capped(source: BinaryIO, target: BinaryIO, cap: int, what: str) -> str:
    """Copy at most ``cap`` bytes (more is a :class:`BundleError`); the sha256 of the copy."""
    digest = hashlib.sha256()
    copied = 0
    while block := source.read(min(COPY_BLOCK, cap + 1 - copied)):
        copied += len(block)
        if copied > cap:
            raise BundleError(f"{what} holds more than the {cap} bytes its record says")
        digest.update(block)
        target.write(block)
    return digest.hexdigest()


def read_bundle(path: Path) -> tuple[CheckpointRecord, list[CheckpointRecord], bytes]:
    """The record, ancestry records and verified bytes of a bundle.

    Members are read in order, the manifest first (at most :data:`MAX_MANIFEST_BYTES`), then
    the checkpoint, streamed to a temporary file and cut off at the size its record gives: a
    small compressed bundle cannot inflate into memory. Any other member is refused.
    """
    if not path.is_file():
        raise BundleError(f"{path}: no such bundle file")
    found: tuple[CheckpointRecord, list[CheckpointRecord], str] | None = None
    with tempfile.TemporaryFile() as spool:
        digest = None
        try:
            with tarfile.open(path, mode="r:*") as tar:
                for info in tar:
                    where = f"{path}: member {info.name!r}"
                    if found is None and info.name != MANIFEST:
                        raise BundleError(f"{path}: not a recgraft bundle ({MANIFEST} is not first)")
                    if not info.isfile():
                        raise BundleError(f"{where} is not a regular file")
                    if found is None:
                        if info.size > MAX_MANIFEST_BYTES:
                            raise BundleError(
                                f"{where} has {info.size} bytes (at most {MAX_MANIFEST_BYTES})"
                            )
                        found = _manifest(_read(tar, info, where), path)
                    elif info.name == found[2] and digest is None:
                        size = found[0].size
                        if info.size != size:
                            raise CheckpointIntegrityError(
                                f"{where} has {info.size} bytes, its record says {size}"
                            )
                        digest = _copy_capped(_open(tar, info, where), spool, size, where)
                    else:
                        raise BundleError(f"{where} is not part of a recgraft bundle")
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise BundleError(f"{path}: not a readable recgraft bundle: {_text(exc)}") from None
        if found is None:
            raise BundleError(f"{path}: not a recgraft bundle (no {MANIFEST})")
        record, ancestors, member = found
        if digest is None:
            raise BundleError(f"{path}: the bundle has no {member}")
        if digest != record.digest:
            raise CheckpointIntegrityError(
                f"{path}: the checkpoint file in the bundle does not match its record's sha256"
            )
        spool.seek(0)
        try:  # the header, before the whole file is read into memory
            check_matches_record(
                read_checkpoint_header(spool, record.size), record.encoder, record.strategy
            )
        except InvalidCheckpointError as exc:
            raise InvalidCheckpointError(f"{path}: cannot register {record.name}: {exc}") from None
        spool.seek(0)
        return record, ancestors, spool.read()


def _open(tar: tarfile.TarFile, info: tarfile.TarInfo, where: str) -> BinaryIO:
    handle = tar.extractfile(info)
    if handle is None:  # pragma: no cover
        raise BundleError(f"{where} cannot be read")
    return cast(BinaryIO, handle)


def _read(tar: tarfile.TarFile, info: tarfile.TarInfo, where: str) -> bytes:
    return _open(tar, info, where).read(info.size)


def _text(exc: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def imported_fields(record: CheckpointRecord) -> dict[str, Any]:
    """The written fields of an imported ``record``: its own, and in ``extra`` where it came from."""
    fields = {f: getattr(record, f) for f in WRITTEN_FIELDS}
    fields["extra"] = {**record.extra, IMPORTED_FROM: {"reference": record.reference, "uri": record.uri}}
    return fields


def imported_parents(record: CheckpointRecord, ancestors: list[CheckpointRecord]) -> list[Parent]:
    """The parents of an imported ``record``: each linked to the checkpoint here with its name
    and sha256 (from the bundle's ancestry records), else kept by its reference."""
    by_ref = {a.reference: a for a in ancestors}
    parents = []
    for reference, relation in record.parents:
        parent = by_ref.get(reference)
        same_file = (parent.name, parent.digest) if parent is not None else None
        parents.append(Parent(reference, relation, resolve=False, same_file=same_file))
    return parents
