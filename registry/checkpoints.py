"""A content-addressed store of checkpoint files: ``ROOT/ab/abcdef....safetensors``.

Files are written atomically (a temporary file in the same folder, fsync, ``os.replace``,
fsync of the folder) and located by ``file://`` URIs in the records. Every read checks the
size and the sha256. The store never unpickles anything: it only moves bytes.

Writers hold a shared lock on ``ROOT/.lock`` from writing a file until its record is
committed; deleting files (``verify --clean``, ``remove``) takes the lock exclusively, so a
file being registered is never taken for an orphan.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from recgraft.registry.errors import CheckpointIntegrityError, RegistryError

SUFFIX = ".safetensors"
_FILE_RE = re.compile(r"[0-9a-f]{64}\.safetensors")
_TMP_PREFIX = ".tmp-"
STALE_TEMP_SECONDS = 3600.0

try:  # POSIX; elsewhere the store works without cross-process locks.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def file_lock(path: Path, exclusive: bool = True) -> Iterator[None]:
    """Hold an ``flock`` on ``path`` (created if needed) for the block."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def uri_to_path(uri: str) -> Path:
    """The local path of a ``file://`` URI."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise RegistryError(
            f"unsupported checkpoint location {uri!r}: only file:// URIs are supported"
        )
    return Path(url2pathname(unquote(parsed.path)))


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CheckpointStore:
    """Checkpoint files under ``root``, named by their sha256."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"CheckpointStore({str(self.root)!r})"

    # -- locations ---------------------------------------------------------------------------
    def path_for(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}{SUFFIX}"

    def uri_for(self, digest: str) -> str:
        return self.path_for(digest).as_uri()

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
        fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=SUFFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        _fsync_dir(target.parent)
        return digest, len(data), target.as_uri()

    # -- reading -----------------------------------------------------------------------------
    def read(self, uri: str, digest: str, size: int, label: str = "checkpoint") -> bytes:
        """The bytes at ``uri``, checked against ``size`` and ``digest``."""
        path = uri_to_path(uri)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CheckpointIntegrityError(
                f"{label}: file {path} is missing (run `recgraft registry verify`)"
            ) from None
        except OSError as exc:
            raise CheckpointIntegrityError(f"{label}: cannot read {path}: {exc.strerror}") from None
        if len(data) != size:
            raise CheckpointIntegrityError(
                f"{label}: file {path} has {len(data)} bytes, the record says {size}: "
                "it was truncated or tampered with"
            )
        actual = sha256_hex(data)
        if actual != digest:
            raise CheckpointIntegrityError(
                f"{label}: file {path} has sha256 {actual[:12]}..., the record says "
                f"{digest[:12]}...: it was tampered with"
            )
        return data

    def check(self, uri: str, digest: str, size: int) -> tuple[str, str] | None:
        """None if the file is intact, else ``(problem, detail)``."""
        path = uri_to_path(uri)
        try:
            actual_size = path.stat().st_size
        except FileNotFoundError:
            return "missing", f"{path} does not exist"
        if actual_size != size:
            return "size mismatch", f"{path} has {actual_size} bytes, expected {size}"
        h = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != digest:
            return "digest mismatch", f"{path} has sha256 {h.hexdigest()}, expected {digest}"
        return None

    # -- housekeeping ------------------------------------------------------------------------
    def files(self) -> Iterator[tuple[Path, str | None]]:
        """Every file in the store as ``(path, digest)``; digest None for stale temporary files."""
        if not self.root.is_dir():
            return
        now = time.time()
        for sub in sorted(self.root.iterdir()):
            if not (sub.is_dir() and len(sub.name) == 2):
                continue
            for path in sorted(sub.iterdir()):
                if _FILE_RE.fullmatch(path.name) and path.name.startswith(sub.name):
                    yield path, path.name[: -len(SUFFIX)]
                elif path.name.startswith(_TMP_PREFIX):
                    with contextlib.suppress(OSError):
                        if now - path.stat().st_mtime > STALE_TEMP_SECONDS:
                            yield path, None

    def delete(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # only if empty
