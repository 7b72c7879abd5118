"""The ``direct`` strategy: the pretrained encoder frozen, its features extracted, a head trained.

The seed article's first transfer mode. The encoder's weights never change (they stay
bit-identical), so the training loop extracts each training window's features once and
trains the head on them. The item table cannot move with the encoder frozen, so a per-item
offset (zero at the start) lets target items, new ones especially, learn their place.
"""

from __future__ import annotations

from pydantic import Field

from recgraft.strategy import TransferContext, TransferStrategy, TransferStrategyConfig
from recgraft.transfer_model import TransferModel


class DirectStrategyConfig(TransferStrategyConfig):
    train_items: bool = Field(True, description="learn a per-item offset to the frozen item vectors")


class DirectStrategy(TransferStrategy):
    """Frozen encoder, trained head (and item offsets and biases)."""

    Config = DirectStrategyConfig
    config: DirectStrategyConfig

    def build(self, context: TransferContext) -> TransferModel:
        encoder = context.encoder
        head = context.make_head(context.extractor.output_dim(encoder), encoder.output_dim)
        return TransferModel(
            encoder, context.extractor, head, freeze_encoder=True,
            item_offset=self.config.train_items, item_bias=self.config.item_bias,
        ).to(encoder.item_vectors().device)
