"""Models to checkpoint bytes and back: safetensors weights plus JSON metadata, never pickle.

A checkpoint carries everything needed to use the model without the training data: the
components' names and configs, the item vocabulary, and where and how it was trained.
Tensors are saved from the CPU, so a checkpoint trained on a GPU loads anywhere.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from recgraft.data.domain import Vocabulary
from recgraft.encoder import Encoder
from recgraft.errors import RecgraftError

if TYPE_CHECKING:
    from recgraft.registry import Registry

FORMAT = "recgraft/1"
CheckpointReader = Callable[[str], tuple[str, bytes]]  # reference -> (resolved NAME@N, checkpoint bytes)


def registry_reader(registry: Registry) -> CheckpointReader:
    """A :data:`CheckpointReader` over ``registry``: resolves the reference, reads the bytes."""

    def read(reference: str) -> tuple[str, bytes]:
        record = registry.resolve(reference)
        return record.reference, registry.read_bytes(record)

    return read


class CheckpointFormatError(RecgraftError):
    """The bytes are not a recgraft checkpoint (or one this version cannot read)."""


@dataclass
class CheckpointContents:
    """What a checkpoint holds: tensors by prefix and the JSON metadata."""

    tensors: dict[str, torch.Tensor]
    metadata: dict[str, Any] = field(default_factory=dict)

    def module_state(self, prefix: str) -> dict[str, torch.Tensor]:
        """The state dict saved under ``prefix.``."""
        start = prefix + "."
        return {k[len(start) :]: v for k, v in self.tensors.items() if k.startswith(start)}

    @property
    def items(self) -> Vocabulary:
        return Vocabulary(np.array(self.metadata["items"], dtype=object))


def to_bytes(modules: dict[str, torch.nn.Module], metadata: dict[str, Any], items: Vocabulary) -> bytes:
    """Serialize modules (by prefix) and metadata into one safetensors file."""
    tensors: dict[str, torch.Tensor] = {}
    for prefix, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{prefix}.{key}"] = value.detach().to("cpu", copy=True).contiguous()
    header = {"format": FORMAT, **metadata, "items": [str(t) for t in items.tokens]}
    return save_tensors(tensors, metadata={"recgraft": json.dumps(header)})


def text_columns(features: dict[str, np.ndarray]) -> dict[str, list[str]]:
    """Item-feature columns holding text (titles, ...), as lists: kept in checkpoints so that a
    model can be aligned with another domain and show its items without the training data."""
    return {
        name: ["" if v is None else str(v) for v in values.tolist()]
        for name, values in features.items()
        if np.asarray(values).dtype == object
    }


def read_metadata(data: bytes) -> dict[str, Any]:
    """The recgraft metadata of a checkpoint, without loading its tensors."""
    try:
        (length,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + length])
        metadata = json.loads(header["__metadata__"]["recgraft"])
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        raise CheckpointFormatError(f"not a recgraft checkpoint: {exc}") from None
    if metadata.get("format") != FORMAT:
        raise CheckpointFormatError(f"unsupported checkpoint format {metadata.get('format')!r}")
    return dict(metadata)


def from_bytes(data: bytes) -> CheckpointContents:
    """Tensors (on the CPU) and metadata of a checkpoint."""
    metadata = read_metadata(data)
    return CheckpointContents(load_tensors(data), metadata)


def build_encoder(contents: CheckpointContents, prefix: str = "encoder") -> Encoder:
    """Rebuild the encoder a checkpoint holds, through the plugin catalogue."""
    from recgraft.plugin_manager import catalog

    spec = contents.metadata["components"][prefix]
    cls = catalog().get("encoder", spec["name"])
    config = catalog().config("encoder", spec["name"], spec["config"])
    encoder = cls(config, num_items=len(contents.items) - 1)
    encoder.load_state_dict(contents.module_state(prefix))
    return encoder


def training_provenance(device: torch.device, precision: str) -> dict[str, str]:
    """Where and how a model was trained, as recorded with its checkpoint."""
    from recgraft import __version__

    name = str(device)
    if device.type == "cuda":
        name = f"cuda ({torch.cuda.get_device_name(device)})"
    return {"device": name, "precision": precision, "torch_version": torch.__version__, "recgraft_version": __version__}
