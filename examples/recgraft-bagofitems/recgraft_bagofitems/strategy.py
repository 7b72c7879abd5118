"""The ``embeddings-only`` strategy: transfer the item embeddings, nothing else.

The target model gets a fresh encoder whose item tables start from the pretrained (and
aligned) ones; every other weight starts at random. It shows how much of a transfer's
gain the item embeddings alone carry. Registered through recgraft's public plugin API, so
its lineage records the relation ``embeddings-only``.
"""

from __future__ import annotations

import torch

from recgraft.strategy import TransferContext, TransferStrategy, TransferStrategyConfig
from recgraft.transfer_model import TransferModel


class EmbeddingsOnlyStrategyConfig(TransferStrategyConfig):
    """The shared strategy settings only."""


class EmbeddingsOnlyStrategy(TransferStrategy):
    """A fresh encoder of the pretrained kind whose item tables are copied from the checkpoint."""

    Config = EmbeddingsOnlyStrategyConfig

    def build(self, context: TransferContext) -> TransferModel:
        encoder = context.fresh_encoder()
        with torch.no_grad():
            for fresh, pretrained in zip(encoder.item_parameters(), context.encoder.item_parameters(), strict=True):
                fresh.copy_(pretrained)
        head = context.make_head(context.extractor.output_dim(encoder), encoder.output_dim)
        return TransferModel(encoder, context.extractor, head, item_bias=self.config.item_bias).to(
            encoder.item_vectors().device
        )
