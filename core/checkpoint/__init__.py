"""Checkpoints: the file format (:mod:`.format`) and the one way from its bytes back to
modules (:mod:`.modules`)."""

from __future__ import annotations

from recgraft.checkpoint.format import (
    CheckpointContents,
    CheckpointFormatError,
    CheckpointReader,
    from_bytes,
    load_module,
    read_metadata,
    registry_reader,
    text_columns,
    to_bytes,
    training_provenance,
)

__all__ = [
    "CheckpointContents",
    "CheckpointFormatError",
    "CheckpointReader",
    "from_bytes",
    "load_module",
    "read_metadata",
    "registry_reader",
    "text_columns",
    "to_bytes",
    "training_provenance",
]
