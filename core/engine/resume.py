"""A training run's resume state: one file per run, claimed by one live process at a time,
written atomically with its sha256 in a header, so a torn or bit-flipped file is refused
with a message naming it instead of crashing or resuming silently from garbage.

File format: one ASCII line ``recgraft-resume-v1 <sha256 of the payload>\\n``, then the
payload (``torch.save`` of the state, read back with ``weights_only=True``).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import torch

from recgraft.errors import ResumeStateError, RunInUseError
from recgraft.registry.files.base import write_file_atomically

MAGIC = b"recgraft-resume-v1 "

#: Runs this process holds (resolved resume path -> the open lock file): claims nest.
_claimed: dict[Path, int] = {}


def lock_path(path: Path) -> Path:
    """The lock file beside a resume file (kept: removing it would race with the next claim)."""
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def claim(path: Path) -> Iterator[None]:
    """Hold the run's exclusive lock (``fcntl.flock`` on :func:`lock_path`) for the block.

    Another live process holding it raises :class:`RunInUseError`; a process that dies
    releases it, and the next claim removes the tmp file it may have left. Nested claims of
    one path in one process are free.
    """
    key = path.resolve()
    if key in _claimed or os.name != "posix":
        yield
        return
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise RunInUseError(
            f"another run with the same settings is using {path}; wait for it to finish or give this run its own --name"
        ) from None
    _claimed[key] = descriptor
    for stale in path.parent.glob(f"{glob.escape(path.name)}.*.tmp"):  # a killed writer's; only the holder writes
        stale.unlink(missing_ok=True)
    try:
        yield
    finally:
        del _claimed[key]
        os.close(descriptor)  # releases the lock


def save(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically: a tmp file of this process's own, fsync, rename."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    header = MAGIC + hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n"
    write_file_atomically(path, lambda tmp: tmp.write_bytes(header + payload), replace=True)


def corrupt(path: Path, why: str) -> NoReturn:
    """Refuse a resume file that cannot be used, naming it and the way out."""
    raise ResumeStateError(f"resume file {path} is unusable ({why}); delete it or run without --resume")


def load(path: Path, map_location: torch.device | str) -> dict[str, Any] | None:
    """The state saved at ``path``, verified against its sha256; None when there is no file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    header, newline, payload = data.partition(b"\n")
    if not header.startswith(MAGIC) or not newline:
        corrupt(path, "no recgraft resume header: truncated, or not a resume file")
    if hashlib.sha256(payload).hexdigest() != header[len(MAGIC):].decode("ascii", "replace"):
        corrupt(path, "its sha256 does not match: truncated or damaged")
    try:
        state = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as exc:  # the digest matched, so the writer saved something unreadable
        corrupt(path, f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
    if not isinstance(state, dict):
        corrupt(path, f"it holds a {type(state).__name__}, not a training state")
    return state
