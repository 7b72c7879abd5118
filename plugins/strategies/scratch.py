"""The ``scratch`` strategy: the same architecture from a random start, trained on the target only.

The baseline every transfer gain is measured against: same encoder kind and config, same
extractor, head and target-side parameters, same training loop; only the pretrained
weights are missing.
"""

from __future__ import annotations

from typing import ClassVar

from recgraft.strategy import TransferContext, TransferStrategy, TransferStrategyConfig
from recgraft.transfer_model import TransferModel


class ScratchStrategyConfig(TransferStrategyConfig):
    """The shared settings only."""


class ScratchStrategy(TransferStrategy):
    """A fresh encoder of the pretrained one's kind and config; everything trains."""

    Config = ScratchStrategyConfig
    uses_pretrained: ClassVar[bool] = False

    def build(self, context: TransferContext) -> TransferModel:
        encoder = context.fresh_encoder()
        head = context.make_head(context.extractor.output_dim(encoder), encoder.output_dim)
        return TransferModel(encoder, context.extractor, head, item_bias=self.config.item_bias).to(
            encoder.item_vectors().device
        )
