"""The local checkpoint store: files in a folder (a path or a ``file://`` URL).

Files are written atomically (a temporary file in the same folder, fsync, ``os.replace``,
fsync of the folder), with the permissions of any new file (``0666`` less the umask: ``0644``
under umask 022, so a team's shared store can be group-readable).
Writers hold a shared lock on ``ROOT/.lock`` from writing a file until its record is
committed; deleting files (``verify --clean``, ``remove``) takes the lock exclusively, so a
file being registered is never taken for an orphan.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from recgraft.registry.errors import RegistryError
from recgraft.registry.files.base import (
    FILE_RE,
    STALE_TEMP_SECONDS,
    SUFFIX,
    TMP_PREFIX,
    Store,
    current_umask,
    file_lock,
    fsync_dir,
    sha256_hex,
    uri_to_path,
)


class CheckpointStore(Store):
    """Checkpoint files in a local folder ``root``, named by their sha256."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.location = self.root.as_uri()

    # -- locations ---------------------------------------------------------------------------
    def path_for(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}{SUFFIX}"

    def uri_for(self, digest: str) -> str:
        return self.path_for(digest).as_uri()

    def check_writable(self) -> None:
        """The root is a folder, or can be made in the nearest folder above it; writable."""
        existing = self.root
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise RegistryError(
                f"cannot use the checkpoint store {self.root}: {existing} is not a folder"
            )
        if not os.access(existing, os.W_OK | os.X_OK):
            raise RegistryError(
                f"cannot use the checkpoint store {self.root}: {existing} is not writable"
            )

    # -- locking -----------------------------------------------------------------------------
    def writing(self) -> contextlib.AbstractContextManager[None]:
        """Shared lock: hold it from writing a file until its record is committed."""
        return file_lock(self.root / ".lock", exclusive=False)

    def deleting(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive lock: hold it while deciding which files to delete and deleting them."""
        return file_lock(self.root / ".lock", exclusive=True)

    # -- writing -----------------------------------------------------------------------------
    def put(self, data: bytes) -> tuple[str, int, str]:
        """Store ``data``; return ``(sha256, size, uri)``. Same bytes, same file (written once)."""
        digest = sha256_hex(data)
        target = self.path_for(digest)
        if target.is_file() and target.stat().st_size == len(data):
            # Same name means same content, unless the file was tampered with: check it.
            if sha256_hex(target.read_bytes()) == digest:
                return digest, len(data), target.as_uri()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=SUFFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fchmod(handle.fileno(), 0o666 & ~current_umask())  # mkstemp made it 0600
                os.fsync(handle.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        fsync_dir(target.parent)
        return digest, len(data), target.as_uri()

    # -- housekeeping ------------------------------------------------------------------------
    def files(self) -> Iterator[tuple[str, str | None]]:
        """Every file in the store as ``(uri, digest)``; digest None for stale temporary files."""
        if not self.root.is_dir():
            return
        now = time.time()
        for sub in sorted(self.root.iterdir()):
            if not (sub.is_dir() and len(sub.name) == 2):
                continue
            for path in sorted(sub.iterdir()):
                if FILE_RE.fullmatch(path.name) and path.name.startswith(sub.name):
                    yield path.as_uri(), path.name[: -len(SUFFIX)]
                elif path.name.startswith(TMP_PREFIX):
                    with contextlib.suppress(OSError):
                        if now - path.stat().st_mtime > STALE_TEMP_SECONDS:
                            yield path.as_uri(), None

    def delete(self, uri: str) -> None:
        path = uri_to_path(uri)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # only if empty
