"""Checkpoint file stores: a local folder (:mod:`.local`) or any fsspec URL (:mod:`.fsspec`,
the ``storage`` extra), behind one :class:`Store` interface (:mod:`.base`)."""

from __future__ import annotations

from pathlib import Path

from recgraft.registry.files.base import Store, uri_to_path, url_scheme
from recgraft.registry.files.local import CheckpointStore

__all__ = ["CheckpointStore", "Store", "open_store"]


def open_store(location: str | Path) -> Store:
    """The store at ``location``: a folder (a path or ``file://``), else an fsspec URL."""
    if isinstance(location, str):
        scheme = url_scheme(location)
        if scheme == "file":
            return CheckpointStore(uri_to_path(location))
        if scheme is not None or ("::" in location and "://" in location):  # or a chained URL
            from recgraft.registry.files.fsspec import FsspecCheckpointStore

            return FsspecCheckpointStore(location)
    return CheckpointStore(location)
