"""What the registry accepts as a recgraft checkpoint: the safetensors header and metadata."""

from __future__ import annotations

import json
import pickle
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recgraft.registry import InvalidCheckpointError, Registry, inspect_checkpoint
from recgraft.registry.checkpoint_format import check_matches_record

from ..conftest import fake_checkpoint

GOOD_META: dict[str, Any] = {
    "format": "recgraft/1",
    "components": {"encoder": {"name": "transformer", "config": {}}},
    "items": ["[PAD]", "a", "b"],
}


def raw(tensors: dict[str, Any], metadata: Any = GOOD_META, data: bytes = b"", pad: bool = True) -> bytes:
    """Safetensors bytes written by hand, so that they can be wrong in any way."""
    header = dict(tensors)
    if metadata is not None:
        header["__metadata__"] = {"recgraft": json.dumps(metadata)}
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def test_a_valid_checkpoint_is_read_from_its_header() -> None:
    header = inspect_checkpoint(fake_checkpoint(b"abc"))
    assert header.tensors == {"encoder.payload": ("U8", (3,))}
    assert header.component("encoder") == "transformer" and header.kind is None


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (pickle.dumps({"weights": [1, 2, 3]}), "header claims"),
        (b"short", "too short"),
        (b"", "too short"),
        (struct.pack("<Q", 2**40) + b"{}", "header claims"),
        (struct.pack("<Q", 4) + b"[1,]", "not JSON"),
        (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
        (raw({}, metadata=None), "no recgraft metadata"),
        (raw({}, metadata=[1, 2]), "a JSON list, not an object"),
        (raw({}, metadata={**GOOD_META, "format": "other"}), "unsupported format"),
        (raw({}, metadata={k: v for k, v in GOOD_META.items() if k != "components"}), "components"),
        (raw({}, metadata={**GOOD_META, "components": {"encoder": {"name": "x"}}}), "components.encoder"),
        (raw({}, metadata={**GOOD_META, "kind": "transfer"}), "components.extractor"),
        (raw({}, metadata={**GOOD_META, "kind": "mystery"}), "unknown kind"),
        (raw({}, metadata={**GOOD_META, "items": ["[PAD]", "a", "a"]}), "'a' appears more than once"),
        (raw({}, metadata={**GOOD_META, "items": []}), "padding token"),
        (raw({}, metadata={**GOOD_META, "items": ["a", "[PAD]"]}), "padding token"),
        (raw({}, metadata={**GOOD_META, "items": ["[PAD]", 3]}), "'items'"),
        (raw({}, metadata={**GOOD_META, "item_features": []}), "item_features"),
        (raw({"w": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 4]}}, data=b"0000"), "needs"),
        (raw({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, data=b"0000"), "needs 8 bytes"),
        (raw({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, data=b"0000"), "bad shape"),
        (raw({"w": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, data=b"0000"), "bad shape"),
        (raw({"w": {"dtype": "PY", "shape": [1], "data_offsets": [0, 4]}}, data=b"0000"), "unknown dtype"),
        (raw({"w": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}, data=b"00"), "starts at byte 1"),
        (raw({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, data=b"00"), "hold 1 bytes"),
        (raw({"w": [1]}), "not described by an object"),
    ],
)
def test_malformed_checkpoints_are_refused_with_the_reason(data: bytes, match: str) -> None:
    with pytest.raises(InvalidCheckpointError, match=match):
        inspect_checkpoint(data)


def test_the_checkpoint_must_hold_the_components_its_record_names() -> None:
    header = inspect_checkpoint(fake_checkpoint(encoder="lstm"))
    with pytest.raises(InvalidCheckpointError, match="holds encoder 'lstm', the record says 'gru'"):
        check_matches_record(header, "gru", None)
    with pytest.raises(InvalidCheckpointError, match="holds strategy None"):
        check_matches_record(header, "lstm", "finetune")
    check_matches_record(inspect_checkpoint(fake_checkpoint(strategy="finetune")), "transformer", "finetune")


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300), cut=st.integers(0, 400), flip=st.integers(0, 400))
def test_any_bytes_are_a_checkpoint_or_an_invalid_checkpoint_error(data: bytes, cut: int, flip: int) -> None:
    valid = bytearray(fake_checkpoint(b"xyz"))
    if flip < len(valid):
        valid[flip] ^= 0x5A
    for candidate in (data, bytes(valid[:cut]), bytes(valid)):
        try:
            inspect_checkpoint(candidate)
        except InvalidCheckpointError:
            pass


@pytest.mark.parametrize(
    "data",
    [pickle.dumps([1]), b"not safetensors", raw({}, metadata=[1]), raw({}, metadata={**GOOD_META, "items": ["a", "a"]})],
)
def test_register_refuses_a_non_checkpoint_before_any_record_or_file(registry: Registry, data: bytes) -> None:
    with pytest.raises(InvalidCheckpointError, match="cannot register pre: not a recgraft checkpoint"):
        registry.register("pre", data, domain="d", encoder="transformer", encoder_config={})
    assert registry.list() == [] and list(registry.store.files()) == []


def test_register_refuses_a_checkpoint_of_another_encoder(registry: Registry) -> None:
    with pytest.raises(InvalidCheckpointError, match="holds encoder 'lstm'"):
        registry.register("pre", fake_checkpoint(encoder="lstm"), domain="d", encoder="transformer",
                          encoder_config={})
    assert registry.list() == []
