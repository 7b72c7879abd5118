"""What makes bytes a recgraft checkpoint, checked from the safetensors header alone (no torch).

A safetensors file is an 8-byte little-endian header length, a JSON header (each tensor's
dtype, shape and byte range, plus ``__metadata__``: strings) and the tensor bytes. recgraft
keeps its own metadata as JSON under ``__metadata__["recgraft"]``: ``format``, the
``components`` (name and config of each), the ``items`` (row 0 is padding) and provenance.

The registry checks this before it records a file (:meth:`Registry.register`, import) and
``verify`` checks it again; recgraft's loader checks the header here first, then the tensors
against the model they are meant for. This is the one place that says what a checkpoint is.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

from recgraft.registry.errors import InvalidCheckpointError

FORMAT = "recgraft/1"
TRANSFER_KIND = "transfer"
PAD = "[PAD]"  # item row 0
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the limit safetensors itself enforces
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
# The components each kind of checkpoint names (``pretrained`` is a record, not a component).
REQUIRED_COMPONENTS = {
    None: ("encoder",),
    TRANSFER_KIND: ("encoder", "extractor", "head", "strategy"),
}


@dataclass(frozen=True)
class CheckpointHeader:
    """A checked header: each tensor's ``(dtype, shape)`` and the recgraft metadata."""

    tensors: dict[str, tuple[str, tuple[int, ...]]]
    metadata: dict[str, Any]

    @property
    def kind(self) -> str | None:
        """``"transfer"`` for a transferred model, None for a pretrained encoder."""
        kind = self.metadata.get("kind")
        return kind if isinstance(kind, str) else None

    def component(self, role: str) -> str | None:
        """The plugin name of the component in ``role`` (``encoder``, ``strategy``, ...)."""
        spec = self.metadata["components"].get(role)
        return spec["name"] if isinstance(spec, dict) else None


def _bad(why: str) -> InvalidCheckpointError:
    return InvalidCheckpointError(f"not a recgraft checkpoint: {why}")


def header_length(prefix: bytes, file_size: int) -> int:
    """The header length in the first 8 bytes, checked against the file's size."""
    if len(prefix) < 8 or file_size < 8:
        raise _bad(f"{file_size} bytes is too short for a safetensors file")
    (length,) = struct.unpack("<Q", prefix[:8])
    if length > MAX_HEADER_BYTES or length > file_size - 8:
        raise _bad(f"its header claims {length} bytes in a file of {file_size}")
    return int(length)


def _tensor(name: str, entry: object) -> tuple[str, tuple[int, ...], int, int]:
    if not isinstance(entry, dict):
        raise _bad(f"tensor {name!r} is not described by an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_BYTES:
        raise _bad(f"tensor {name!r} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise _bad(f"tensor {name!r} has a bad shape {shape!r}")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(type(o) is int for o in offsets)
        and 0 <= offsets[0] <= offsets[1]
    ):
        raise _bad(f"tensor {name!r} has bad data offsets {offsets!r}")
    nbytes = math.prod(shape) * DTYPE_BYTES[dtype]  # Python ints: a huge shape cannot overflow
    if offsets[1] - offsets[0] != nbytes:
        raise _bad(
            f"tensor {name!r} of shape {shape} ({dtype}) needs {nbytes} bytes, "
            f"its data range holds {offsets[1] - offsets[0]}"
        )
    return str(dtype), tuple(shape), offsets[0], offsets[1]


def _metadata(header: dict[str, Any]) -> dict[str, Any]:
    """The recgraft metadata, its structure checked."""
    extra = header.get("__metadata__")
    if not isinstance(extra, dict) or not isinstance(extra.get("recgraft"), str):
        raise _bad("no recgraft metadata in its safetensors header")
    try:
        metadata = json.loads(extra["recgraft"])
    except ValueError:
        raise _bad("its recgraft metadata is not JSON") from None
    if not isinstance(metadata, dict):
        raise _bad(f"its recgraft metadata is a JSON {type(metadata).__name__}, not an object")
    if metadata.get("format") != FORMAT:
        raise _bad(f"unsupported format {metadata.get('format')!r} (this recgraft reads {FORMAT})")
    kind = metadata.get("kind")
    if kind not in REQUIRED_COMPONENTS:
        raise _bad(f"unknown kind {kind!r}")
    components = metadata.get("components")
    if not isinstance(components, dict):
        raise _bad("its metadata has no 'components' object")
    for role in REQUIRED_COMPONENTS[kind]:
        spec = components.get(role)
        if not (
            isinstance(spec, dict)
            and isinstance(spec.get("name"), str)
            and spec["name"]
            and isinstance(spec.get("config"), dict)
        ):
            raise _bad(f"components.{role} must be an object with a 'name' and a 'config' object")
    items = metadata.get("items")
    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
        raise _bad("'items' must be a list of item tokens")
    if not items or items[0] != PAD:
        raise _bad(f"'items' must start with the padding token {PAD!r}")
    if len(set(items)) != len(items):
        seen: set[str] = set()
        duplicate = next(t for t in items if t in seen or seen.add(t))  # type: ignore[func-returns-value]
        raise _bad(f"item {duplicate!r} appears more than once in 'items'")
    features = metadata.get("item_features", {})
    if not isinstance(features, dict) or not all(isinstance(v, list) for v in features.values()):
        raise _bad("'item_features' must be an object of lists")
    return metadata


def parse_header(header_bytes: bytes, file_size: int) -> CheckpointHeader:
    """Check a safetensors header (the bytes after the length) against the file's size."""
    try:
        header = json.loads(header_bytes)
    except (ValueError, UnicodeDecodeError):
        raise _bad("its safetensors header is not JSON") from None
    if not isinstance(header, dict):
        raise _bad("its safetensors header is not a JSON object")
    data_size = file_size - 8 - len(header_bytes)
    tensors: dict[str, tuple[str, tuple[int, ...]]] = {}
    ranges = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, begin, end = _tensor(name, entry)
        tensors[name] = (dtype, shape)
        ranges.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(ranges):
        if begin != position:
            raise _bad(f"tensor {name!r} starts at byte {begin}, expected {position}")
        position = end
    if position != data_size:
        raise _bad(f"its tensors hold {position} bytes, the file has {data_size} after the header")
    return CheckpointHeader(tensors, _metadata(header))


def inspect_checkpoint(data: bytes) -> CheckpointHeader:
    """The checked header of checkpoint bytes; :class:`InvalidCheckpointError` if they are not one."""
    length = header_length(data[:8], len(data))
    return parse_header(data[8 : 8 + length], len(data))


def read_checkpoint_header(handle: BinaryIO, file_size: int) -> CheckpointHeader:
    """The checked header of the open checkpoint file ``handle`` (read from its start)."""
    length = header_length(handle.read(8), file_size)
    return parse_header(handle.read(length), file_size)


def check_matches_record(header: CheckpointHeader, encoder: str, strategy: str | None) -> None:
    """Refuse a checkpoint whose components are not those its record names."""
    if header.component("encoder") != encoder:
        raise InvalidCheckpointError(
            f"the checkpoint holds encoder {header.component('encoder')!r}, "
            f"the record says {encoder!r}"
        )
    held = header.component("strategy") if header.kind == TRANSFER_KIND else None
    if held != strategy:
        raise InvalidCheckpointError(
            f"the checkpoint holds strategy {held!r}, the record says {strategy!r}"
        )
