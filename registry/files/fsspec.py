"""Checkpoint files on any fsspec filesystem: ``s3://bucket/prefix``, ``gs://...``, ``memory://...``.

The optional ``storage`` extra installs fsspec; a protocol's own package (s3fs, gcsfs, ...)
comes from the user. Credentials and endpoints come from fsspec's configuration (its config
file or ``FSSPEC_<PROTOCOL>_<OPTION>`` variables), never from the records.

Layout and checks are the local store's: ``ROOT/ab/<sha256>.safetensors``, sha256 and size
verified on every read. Writes are atomic where the filesystem allows: object stores (S3,
GCS, Azure, ...) publish an object only once its upload completes, so the file is written in
place; elsewhere it is written under a temporary name and moved. Either way its size is
checked afterwards.

Machines sharing a store share no lock, so a file written here and not yet committed could
look like an orphan to ``verify --clean`` on another machine: unreferenced files younger than
:data:`ORPHAN_GRACE_SECONDS` are not orphans yet.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from recgraft.registry.errors import RegistryError
from recgraft.registry.files.base import (
    FILE_RE,
    STALE_TEMP_SECONDS,
    SUFFIX,
    TMP_PREFIX,
    Store,
    sha256_hex,
    url_scheme,
)
from recgraft.registry.files.remote import STORAGE_HINT, filesystem

__all__ = ["OBJECT_STORES", "ORPHAN_GRACE_SECONDS", "STORAGE_HINT", "FsspecCheckpointStore"]

ORPHAN_GRACE_SECONDS = 3600.0
# Filesystems whose writes publish an object only when complete (and whose "move" is a copy).
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "oci"})


def _age_seconds(fs: Any, path: str, now: float) -> float | None:
    """Seconds since ``path`` was last modified; None if the filesystem cannot say."""
    try:
        stamp = fs.modified(path)
    except (NotImplementedError, OSError):
        return None
    if not isinstance(stamp, datetime):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return now - stamp.timestamp()


class FsspecCheckpointStore(Store):
    """Checkpoint files under an fsspec URL, named by their sha256."""

    def __init__(self, url: str) -> None:
        self.fs, root = filesystem(url)
        self.scheme = url_scheme(url) or "file"
        self.root = root.rstrip("/")
        self.location = f"{self.scheme}://{self.root}"
        self.atomic_writes = self.scheme in OBJECT_STORES
        self.orphan_grace_s = ORPHAN_GRACE_SECONDS

    # -- locations ---------------------------------------------------------------------------
    def path_for(self, digest: str) -> str:
        return f"{self.root}/{digest[:2]}/{digest}{SUFFIX}"

    def _uri(self, path: str) -> str:
        return f"{self.scheme}://{path}"

    def uri_for(self, digest: str) -> str:
        return self._uri(self.path_for(digest))

    def _path(self, uri: str) -> str:
        prefix = f"{self.scheme}://"
        if not uri.startswith(prefix + self.root + "/"):
            raise RegistryError(f"{uri!r} is not in the checkpoint store {self.location}")
        return uri[len(prefix) :]

    # -- writing -----------------------------------------------------------------------------
    def _intact(self, path: str, digest: str, size: int) -> bool:
        self.fs.invalidate_cache(path)
        try:
            if int(self.fs.size(path)) != size:
                return False
            return sha256_hex(self.fs.cat_file(path)) == digest
        except FileNotFoundError:
            return False

    def put(self, data: bytes) -> tuple[str, int, str]:
        """Store ``data``; return ``(sha256, size, uri)``. Same bytes, same file (written once)."""
        data = bytes(data)
        digest = sha256_hex(data)
        target = self.path_for(digest)
        if self._intact(target, digest, len(data)):
            return digest, len(data), self._uri(target)
        folder = target.rsplit("/", 1)[0]
        try:
            self.fs.makedirs(folder, exist_ok=True)
            if self.atomic_writes:
                self.fs.pipe_file(target, data)
            else:
                tmp = f"{folder}/{TMP_PREFIX}{uuid.uuid4().hex}{SUFFIX}"
                try:
                    self.fs.pipe_file(tmp, data)
                    self.fs.mv(tmp, target)
                except BaseException:
                    with contextlib.suppress(OSError):
                        self.fs.rm_file(tmp)
                    raise
            self.fs.invalidate_cache(target)
            written = int(self.fs.size(target))
        except OSError as exc:
            raise RegistryError(f"cannot write {self._uri(target)}: {exc}") from None
        if written != len(data):
            raise RegistryError(
                f"writing {self._uri(target)} left {written} bytes instead of {len(data)}"
            )
        return digest, len(data), self._uri(target)

    # -- housekeeping ------------------------------------------------------------------------
    def files(self) -> Iterator[tuple[str, str | None]]:
        """Every file in the store as ``(uri, digest)``; digest None for stale temporary files."""
        self.fs.invalidate_cache(self.root)
        try:
            found = sorted(self.fs.find(self.root))
        except FileNotFoundError:
            return
        now = time.time()
        for path in found:
            folder, _, name = path.rpartition("/")
            sub = folder.rpartition("/")[2]
            if folder.rpartition("/")[0] != self.root or len(sub) != 2:
                continue
            if FILE_RE.fullmatch(name) and name.startswith(sub):
                yield self._uri(path), name[: -len(SUFFIX)]
            elif name.startswith(TMP_PREFIX):
                age = _age_seconds(self.fs, path, now)
                if age is None or age > STALE_TEMP_SECONDS:
                    yield self._uri(path), None

    def settled(self, uri: str) -> bool:
        """Older than the grace period (or of unknown age): no writer elsewhere is still on it."""
        age = _age_seconds(self.fs, self._path(uri), time.time())
        return age is None or age >= self.orphan_grace_s

    def delete(self, uri: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._path(uri))
