"""Bundles: one ``.tar`` file carrying a checkpoint's file, its record and its ancestry records.

Layout::

    recgraft-bundle.json                 {"format": "recgraft-bundle", "format_version": 1,
                                          "checkpoint": {...record...}, "ancestors": [...],
                                          "file": "checkpoint/<sha256>.safetensors"}
    checkpoint/<sha256>.safetensors      the checkpoint's bytes

Importing reads only those two members (nothing is extracted to disk by name), checks the
file's size and sha256 against the record, registers it as the next version of its name in
this registry, and links each parent to the checkpoint here with the same name and digest;
a parent not found here stays in the lineage by its reference (marked missing).
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import tarfile
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from recgraft.registry.checkpoints import current_umask as _umask
from recgraft.registry.checkpoints import sha256_hex
from recgraft.registry.entities import CheckpointRecord
from recgraft.registry.errors import BundleError, CheckpointIntegrityError, RegistryError
from recgraft.registry.models import SqlCheckpoint
from recgraft.registry.references import format_reference

if TYPE_CHECKING:
    from recgraft.registry.store import ParentLink, Registry

FORMAT = "recgraft-bundle"
FORMAT_VERSION = 1
MANIFEST = "recgraft-bundle.json"
_FILE_MEMBER = re.compile(r"checkpoint/[0-9a-f]{64}\.safetensors")
IMPORTED_FROM = "recgraft.imported_from"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _target(path: Path, force: bool) -> None:
    """Refuse to write the bundle over an existing path (unless ``force``, and then only over
    a regular file: never a device, a folder, a link or a socket)."""
    try:
        mode = path.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # nothing there (the folder is made later)
        return
    except OSError as exc:
        raise BundleError(f"{path}: cannot write a bundle there: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise BundleError(f"{path} exists and is not a regular file: refusing to replace it")
    if not force:
        raise BundleError(f"{path} already exists: use --force (force=True) to replace it")


def _publish(tmp: Path, path: Path, force: bool) -> None:
    """Move the finished ``tmp`` to ``path``: without ``force`` by a hard link, which fails if
    something appeared at ``path`` meanwhile (where links are unsupported, after a check)."""
    _target(path, force)  # checked again just before publishing
    if not force:
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:  # no hard links on this filesystem: checked just above
            os.replace(tmp, path)
        else:
            tmp.unlink()
        return
    os.replace(tmp, path)


def export_bundle(registry: Registry, ref: str, path: Path, force: bool = False) -> Path:
    record = registry.resolve(ref)
    path = path.expanduser()
    if path.is_dir():
        path = path / f"{record.name}-{record.version}.tar"
    _target(path, force)
    data = registry.read_bytes(record)  # verified
    lineage = registry.lineage(record.reference)
    ancestors = []
    for reference in lineage.ancestors:
        node = lineage.node(reference)
        if node.missing:
            continue
        ancestors.append(registry.get(reference, include_removed=True).model_dump(mode="json"))
    member = f"checkpoint/{record.digest}.safetensors"
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "checkpoint": record.model_dump(mode="json"),
        "ancestors": ancestors,
        "file": member,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".tar", dir=path.parent)
    except OSError as exc:
        raise BundleError(
            f"{path}: cannot create its folder {path.parent}: {exc.strerror or exc}"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            with tarfile.open(fileobj=handle, mode="w") as tar:
                _add(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
                _add(tar, member, data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a bundle is a normal file
        _publish(Path(tmp), path, force)
    except FileExistsError:
        Path(tmp).unlink(missing_ok=True)
        raise BundleError(f"{path} already exists: use --force (force=True) to replace it") from None
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise BundleError(f"{path}: cannot write the bundle: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _member(tar: tarfile.TarFile, name: str, path: Path) -> bytes:
    try:
        info = tar.getmember(name)
    except KeyError:
        raise BundleError(f"{path}: not a recgraft bundle (no {name})") from None
    if not info.isfile():
        raise BundleError(f"{path}: {name} is not a regular file")
    handle = tar.extractfile(info)
    if handle is None:  # pragma: no cover
        raise BundleError(f"{path}: cannot read {name}")
    return handle.read()


def read_bundle(path: Path) -> tuple[CheckpointRecord, list[CheckpointRecord], bytes]:
    """The record, ancestry records and verified bytes of a bundle."""
    if not path.is_file():
        raise BundleError(f"{path}: no such bundle file")
    try:
        with tarfile.open(path, mode="r:*") as tar:
            manifest: Any = json.loads(_member(tar, MANIFEST, path))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise BundleError(f"{path}: not a recgraft bundle")
            if manifest.get("format_version") != FORMAT_VERSION:
                raise BundleError(
                    f"{path}: bundle format version {manifest.get('format_version')} is not supported "
                    f"(this recgraft reads {FORMAT_VERSION})"
                )
            member = manifest.get("file")
            if not isinstance(member, str) or not _FILE_MEMBER.fullmatch(member):
                raise BundleError(f"{path}: bad checkpoint member name {member!r}")
            record = CheckpointRecord.model_validate(manifest["checkpoint"])
            ancestors = [CheckpointRecord.model_validate(a) for a in manifest.get("ancestors", [])]
            data = _member(tar, member, path)
    except (tarfile.TarError, OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: not a readable recgraft bundle: {exc}") from None
    except (ValidationError, KeyError, TypeError) as exc:
        raise BundleError(f"{path}: bundle record is invalid: {str(exc).splitlines()[0]}") from None
    if len(data) != record.size or sha256_hex(data) != record.digest:
        raise CheckpointIntegrityError(
            f"{path}: the checkpoint file in the bundle does not match its record's size and sha256"
        )
    return record, ancestors, data


def import_bundle(registry: Registry, path: Path) -> CheckpointRecord:
    from recgraft.registry.store import ParentLink

    record, ancestors, data = read_bundle(path.expanduser())
    by_ref = {a.reference: a for a in ancestors}

    existing = registry.list(name=record.name)
    for candidate in existing:
        if candidate.digest == record.digest:
            return candidate  # already here: importing twice is a no-op

    def links(session: Session) -> list[ParentLink]:
        out = []
        for reference, relation in record.parents:
            parent = by_ref.get(reference)
            row = None
            if parent is not None:
                row = session.scalars(
                    select(SqlCheckpoint)
                    .where(SqlCheckpoint.name == parent.name, SqlCheckpoint.digest == parent.digest)
                    .order_by(SqlCheckpoint.removed_at.is_not(None), SqlCheckpoint.version.desc())
                    .limit(1)
                ).first()
            if row is None:
                out.append(ParentLink(None, reference, relation))
            else:
                out.append(ParentLink(row.id, format_reference(row.name, row.version), relation))
        return out

    extra = dict(record.extra)
    extra[IMPORTED_FROM] = {"reference": record.reference, "uri": record.uri}
    try:
        return registry._register(
            record.name,
            data,
            domain=record.domain,
            encoder=record.encoder,
            encoder_config=record.encoder_config,
            strategy=record.strategy,
            metrics=record.metrics,
            dataset_fingerprint=record.dataset_fingerprint,
            device=record.device,
            precision=record.precision,
            torch_version=record.torch_version,
            recgraft_version=record.recgraft_version,
            parent_links=links,
            aliases=(),
            tags=record.tags,
            extra=extra,
            created_at=record.created_at,
        )
    except RegistryError as exc:
        raise type(exc)(f"{path}: {exc}") from None
