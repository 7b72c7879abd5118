"""Models to checkpoint bytes and back: safetensors weights plus JSON metadata, never pickle.

A checkpoint carries everything needed to use the model without the training data: the
components' names and configs, the item vocabulary, and where and how it was trained.
Tensors are saved from the CPU, so a checkpoint trained on a GPU loads anywhere.

Reading checks the header first (:mod:`recgraft.registry.checkpoint_format`, the one
definition of a checkpoint's structure), then each module's tensors against a copy of the
module built on the meta device, so a malformed checkpoint is a :class:`CheckpointFormatError`
naming it, never a crash or a huge allocation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from recgraft.data.domain import Vocabulary
from recgraft.errors import RecgraftError
from recgraft.provenance import check_components
from recgraft.registry.checkpoint_format import FORMAT, inspect_checkpoint
from recgraft.registry.errors import InvalidCheckpointError

if TYPE_CHECKING:
    from recgraft.registry import Registry

M = TypeVar("M", bound=torch.nn.Module)
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
    source: str | None = None  # the registry reference it was read from, for messages

    @property
    def label(self) -> str:
        """How messages name this checkpoint."""
        return f"checkpoint {self.source}" if self.source else "checkpoint"

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


def read_metadata(data: bytes, source: str | None = None) -> dict[str, Any]:
    """The recgraft metadata of a checkpoint, its structure checked, without loading tensors."""
    try:
        return dict(inspect_checkpoint(bytes(data)).metadata)
    except InvalidCheckpointError as exc:
        raise CheckpointFormatError(f"{CheckpointContents({}, {}, source).label}: {exc}") from None


def from_bytes(data: bytes, source: str | None = None) -> CheckpointContents:
    """Tensors (on the CPU) and metadata of a checkpoint (``source``: its reference, for messages)."""
    metadata = read_metadata(data, source)
    try:
        tensors = load_tensors(bytes(data))
    except SafetensorError as exc:  # the header was checked: only a corner it does not cover
        raise CheckpointFormatError(f"{CheckpointContents({}, {}, source).label}: {exc}") from None
    return CheckpointContents(tensors, metadata, source)


def load_module(contents: CheckpointContents, build: Callable[[], M], prefix: str) -> M:
    """``build()`` with the checkpoint's ``prefix.`` tensors loaded into it.

    The tensors are first compared with a copy built on the meta device (no memory): a
    config that does not fit them (an item list of another length than the embedding
    rows, a huge ``embedding_dim``) is refused before anything real is allocated.
    """
    state = contents.module_state(prefix)
    try:
        check_components(contents.metadata)  # the plugins it was written with: installed, unambiguous
        with torch.device("meta"):
            skeleton = build()
    except RecgraftError as exc:  # an unknown plugin, a config its plugin refuses
        raise type(exc)(f"{contents.label}: {exc}") from None
    expected = {key: tuple(value.shape) for key, value in skeleton.state_dict().items()}
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    if missing or unexpected:
        raise CheckpointFormatError(
            f"{contents.label}: its {prefix} tensors do not fit its components "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise CheckpointFormatError(
                f"{contents.label}: tensor {prefix}.{key} has shape {list(state[key].shape)}, "
                f"its recorded config and {len(contents.items) - 1} items make {list(shape)}"
            )
    module = build()
    module.load_state_dict(state)
    return module


def training_provenance(device: torch.device, precision: str) -> dict[str, str]:
    """Where and how a model was trained, as recorded with its checkpoint."""
    from recgraft import __version__

    name = str(device)
    if device.type == "cuda":
        name = f"cuda ({torch.cuda.get_device_name(device)})"
    return {"device": name, "precision": precision, "torch_version": torch.__version__, "recgraft_version": __version__}
