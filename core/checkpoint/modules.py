"""The one way from checkpoint contents back to modules, through the plugin catalogue.

A pretrained checkpoint holds an encoder (tensors under ``encoder.``); a transferred one a
whole :class:`~recgraft.transfer_model.TransferModel` (under ``model.``), rebuilt by its
recorded strategy from its recorded components. Every module is first built on the meta
device and checked against the tensors (:func:`recgraft.checkpoint.format.load_module`).
"""

from __future__ import annotations

from typing import Any

from recgraft.checkpoint.format import CheckpointContents, CheckpointFormatError, load_module
from recgraft.encoder import Encoder
from recgraft.head import Head
from recgraft.plugin_manager import catalog
from recgraft.strategy import TransferContext
from recgraft.transfer_model import TransferModel

#: ``metadata["kind"]`` of a transferred model's checkpoint (a pretrained one has none).
TRANSFER_KIND = "transfer"


def is_transfer(contents: CheckpointContents) -> bool:
    """Whether the checkpoint holds a transferred model (else a pretrained encoder)."""
    return contents.metadata.get("kind") == TRANSFER_KIND


def _spec(contents: CheckpointContents, kind: str) -> tuple[str, Any]:
    """(name, config) the checkpoint records for its ``kind`` component."""
    spec = contents.metadata["components"][kind]
    return spec["name"], spec["config"]


def encoder_from_checkpoint(contents: CheckpointContents) -> Encoder:
    """The encoder a checkpoint holds: a pretrained one, or the encoder of a transferred model."""
    name, config = _spec(contents, "encoder")
    prefix = "model.encoder" if is_transfer(contents) else "encoder"
    num_items = len(contents.items) - 1
    encoder: Encoder = load_module(contents, lambda: catalog().build("encoder", name, config, num_items), prefix)
    return encoder


def transfer_model_from_checkpoint(contents: CheckpointContents) -> TransferModel:
    """A transferred model rebuilt from its checkpoint, in eval mode."""
    components = contents.metadata["components"]
    num_items = len(contents.items) - 1
    recorded = components.get("pretrained", {})

    def architecture_of(reference: str, fresh: bool) -> Encoder:  # the weights come with the state below
        try:
            other = recorded[reference]["encoder"]
            name, config = other["name"], other["config"]
        except (KeyError, TypeError):
            raise CheckpointFormatError(f"{contents.label} does not record the architecture of {reference!r}") from None
        encoder: Encoder = catalog().build("encoder", name, config, num_items)
        return encoder

    def build() -> TransferModel:
        encoder_name, encoder_config = _spec(contents, "encoder")
        head_name, head_config = _spec(contents, "head")
        head_config = catalog().config("head", head_name, head_config)

        def make_head(feature_dim: int, item_dim: int) -> Head:
            head: Head = catalog().build("head", head_name, head_config, feature_dim, item_dim)
            return head

        context = TransferContext(catalog().build("encoder", encoder_name, encoder_config, num_items), encoder_name,
                                  catalog().build("extractor", *_spec(contents, "extractor")), make_head,
                                  num_items, architecture_of)
        model: TransferModel = catalog().build("strategy", *_spec(contents, "strategy")).build(context)
        return model

    return load_module(contents, build, "model").eval()


def model_from_checkpoint(contents: CheckpointContents) -> Encoder | TransferModel:
    """What the checkpoint holds, ready to score: its transferred model or its encoder."""
    return transfer_model_from_checkpoint(contents) if is_transfer(contents) else encoder_from_checkpoint(contents)
