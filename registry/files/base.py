"""What every checkpoint file store shares: the :class:`Store` interface, the layout
``ROOT/ab/abcdef....safetensors``, verified reads of any store's URI, locks, and atomic writes
of output files (:func:`write_file_atomically`, also used for exports and resume files).

Records locate their files by URI, and every read checks the size and the sha256 against
the record, whichever store wrote the file: a record made on one machine reads on another
that sees the same storage. The stores never unpickle anything: they only move bytes.
The stores themselves: :mod:`recgraft.registry.files.local` (a folder) and
:mod:`recgraft.registry.files.fsspec` (any fsspec URL); :func:`recgraft.registry.files.open_store`
picks.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from recgraft.registry.checkpoint_format import check_matches_record, read_checkpoint_header
from recgraft.registry.errors import (
    CheckpointIntegrityError,
    InvalidCheckpointError,
    OutputPathError,
    RegistryError,
)

SUFFIX = ".safetensors"
FILE_RE = re.compile(r"[0-9a-f]{64}\.safetensors")
TMP_PREFIX = ".tmp-"
STALE_TEMP_SECONDS = 3600.0
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")

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


def current_umask() -> int:
    """The process umask: from /proc where there is one (no race with other threads), else
    by setting it and putting it back (Python has no getter)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def url_scheme(location: str) -> str | None:
    """The scheme of ``scheme://...`` (lower case), None for a plain path."""
    found = _SCHEME_RE.match(location)
    return found.group(1).lower() if found else None


def uri_to_path(uri: str) -> Path:
    """The local path of a ``file://`` URI."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise RegistryError(f"not a local checkpoint location (file://): {uri!r}")
    return Path(url2pathname(unquote(parsed.path)))


@contextlib.contextmanager
def open_uri(uri: str) -> Iterator[tuple[BinaryIO, int]]:
    """``(binary file, size)`` of the checkpoint at ``uri``, any scheme a store writes.

    A missing file raises :class:`FileNotFoundError`; other failures :class:`OSError` or
    :class:`RegistryError` (an unknown scheme, fsspec not installed).
    """
    if url_scheme(uri) == "file":
        path = uri_to_path(uri)
        size = path.stat().st_size
        with path.open("rb") as handle:
            yield handle, size
        return
    from recgraft.registry.files.remote import open_fsspec_uri

    with open_fsspec_uri(uri) as opened:
        yield opened


def _where(uri: str) -> str:
    """A location for messages: the path of a local file, else the URI."""
    return str(uri_to_path(uri)) if url_scheme(uri) == "file" else uri


def read_verified(uri: str, digest: str, size: int, label: str = "checkpoint") -> bytes:
    """The bytes at ``uri``, checked against ``size`` and ``digest``."""
    where = _where(uri)
    try:
        with open_uri(uri) as (handle, actual_size):
            if actual_size != size:
                raise CheckpointIntegrityError(
                    f"{label}: file {where} has {actual_size} bytes, the record says {size}: "
                    "it was truncated or tampered with"
                )
            data = handle.read()
    except FileNotFoundError:
        raise CheckpointIntegrityError(
            f"{label}: file {where} is missing (run `recgraft registry verify`)"
        ) from None
    except OSError as exc:
        raise CheckpointIntegrityError(
            f"{label}: cannot read {where}: {exc.strerror or exc}"
        ) from None
    actual = sha256_hex(data)
    if len(data) != size or actual != digest:
        raise CheckpointIntegrityError(
            f"{label}: file {where} has sha256 {actual[:12]}..., the record says "
            f"{digest[:12]}...: it was tampered with"
        )
    return data


def check_uri(uri: str, digest: str, size: int) -> tuple[str, str] | None:
    """None if the file at ``uri`` is intact, else ``(problem, detail)``."""
    where = _where(uri)
    try:
        with open_uri(uri) as (handle, actual_size):
            if actual_size != size:
                return "size mismatch", f"{where} has {actual_size} bytes, expected {size}"
            h = hashlib.sha256()
            for block in iter(lambda: handle.read(1 << 20), b""):
                h.update(block)
    except FileNotFoundError:
        return "missing", f"{where} does not exist"
    except OSError as exc:
        return "missing", f"cannot read {where}: {exc.strerror or exc}"
    if h.hexdigest() != digest:
        return "digest mismatch", f"{where} has sha256 {h.hexdigest()}, expected {digest}"
    return None


def check_file_format(
    uri: str, size: int, encoder: str, strategy: str | None
) -> tuple[str, str] | None:
    """None if the file at ``uri`` is a recgraft checkpoint of this record, else
    ``("not a checkpoint", detail)`` (``verify`` runs it on files whose digest matched)."""
    try:
        with open_uri(uri) as (handle, _):
            check_matches_record(read_checkpoint_header(handle, size), encoder, strategy)
    except InvalidCheckpointError as exc:
        return "not a checkpoint", f"{_where(uri)}: {exc}"
    except OSError as exc:
        return "missing", f"cannot read {_where(uri)}: {exc.strerror or exc}"
    return None


def fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_output_path(path: Path, replace: bool) -> None:
    """OutputPathError unless a file may be written at ``path``: nothing is there, or (with
    ``replace``) a regular file is; a device, a folder, a link or a socket never is replaced."""
    try:
        mode = path.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # nothing there (the folder is made later)
        return
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot write there: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise OutputPathError(f"{path} exists and is not a regular file: refusing to replace it")
    if not replace:
        raise OutputPathError(f"{path} already exists: use --force (force=True) to replace it")


def write_file_atomically(path: Path, write: Callable[[Path], None], *, replace: bool) -> None:
    """Write a new file at ``path`` whole or not at all: ``write(tmp)`` fills a temporary file in
    the same folder, which is fsynced, given the umask's permissions and renamed onto ``path``.

    ``path`` is checked with :func:`check_output_path` before and again just before the rename;
    without ``replace`` the rename is a hard link, which fails if something appeared meanwhile.
    The temporary file is named ``NAME.PID-RANDOM.tmp``. OutputPathError for the path itself;
    other OSErrors are the caller's to word.
    """
    check_output_path(path, replace)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot create its folder {path.parent}: {exc.strerror or exc}") from None
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        check_output_path(path, replace)
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise OutputPathError(f"{path} already exists: use --force (force=True) to replace it") from None
            except OSError:  # no hard links on this filesystem: checked just above
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # make the rename itself durable, where the OS allows
        fsync_dir(path.parent)


class Store(abc.ABC):
    """Checkpoint files named by their sha256 under one root; records point at them by URI."""

    #: The root, as a URL (``file:///...``, ``s3://bucket/prefix``).
    location: str

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    @abc.abstractmethod
    def uri_for(self, digest: str) -> str:
        """Where the file with this sha256 lives (or would live) in this store."""

    @abc.abstractmethod
    def put(self, data: bytes) -> tuple[str, int, str]:
        """Store ``data``; return ``(sha256, size, uri)``. Same bytes, same file (written once)."""

    @abc.abstractmethod
    def files(self) -> Iterator[tuple[str, str | None]]:
        """Every file in the store as ``(uri, digest)``; digest None for stale temporary files."""

    @abc.abstractmethod
    def delete(self, uri: str) -> None:
        """Delete the file at ``uri`` (one of this store's); a missing file is no error."""

    def check_writable(self) -> None:
        """Raise :class:`RegistryError` if files surely cannot be written here (checked by
        writers before long work, e.g. training); a no-op where that cannot be told cheaply."""
        return None

    def settled(self, uri: str) -> bool:
        """Whether an unreferenced file at ``uri`` is an orphan rather than a write in flight."""
        return True

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """Held from writing a file until its record is committed (a no-op by default)."""
        return contextlib.nullcontext()

    def deleting(self) -> contextlib.AbstractContextManager[None]:
        """Held while deciding which files to delete and deleting them (a no-op by default)."""
        return contextlib.nullcontext()

    def read(self, uri: str, digest: str, size: int, label: str = "checkpoint") -> bytes:
        """The bytes at ``uri`` (any store's), checked against ``size`` and ``digest``."""
        return read_verified(uri, digest, size, label)

    def check(self, uri: str, digest: str, size: int) -> tuple[str, str] | None:
        """None if the file at ``uri`` is intact, else ``(problem, detail)``."""
        return check_uri(uri, digest, size)
