"""The target model a transfer trains: encoder, extractor, optional feature adapter, head.

``TransferModel(history)`` scores every item of the target catalogue ``(B, I + 1)``:
features come from the (aligned) encoder through the extractor, optionally reshaped by an
adapter (how ``fusion`` mixes in a target-domain encoder), and the head scores them against
the encoder's item table. Two small target-side parameters sit on top, because the item
table of a frozen encoder cannot move: a per-item offset to the item vectors (so new items
can learn) and a per-item bias (the popularity shift between domains). Both start at zero,
so an untrained TransferModel scores exactly as the pretrained encoder (zero-shot).
"""

from __future__ import annotations

import torch
from torch import nn

from recgraft.encoder import Encoder, remap_item_rows
from recgraft.engine.scoring import Scorer, scorer
from recgraft.extractor import FeatureExtractor
from recgraft.head import Head


class FeatureAdapter(nn.Module):
    """A trainable map applied to extracted features, given the history (e.g. fusion).

    ``forward(features (B, F), history (B, L)) -> (B, F')``; ``sequence`` does the same at
    every position, or returns None when it cannot.
    """

    output_dim: int

    def forward(self, features: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def sequence(self, features: torch.Tensor, history: torch.Tensor) -> torch.Tensor | None:
        return None


def _overrides_score_items(encoder: Encoder) -> bool:
    return type(encoder).score_items is not Encoder.score_items


class TransferModel(nn.Module):
    """Scores histories over the target catalogue; see the module docstring."""

    def __init__(
        self,
        encoder: Encoder,
        extractor: FeatureExtractor,
        head: Head,
        *,
        adapter: FeatureAdapter | None = None,
        freeze_encoder: bool = False,
        item_offset: bool = False,
        item_bias: bool = True,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.extractor = extractor
        self.adapter = adapter
        self.head = head
        self.freeze_encoder = freeze_encoder
        rows, dim = encoder.item_vectors().shape
        device = encoder.item_vectors().device
        self.item_offset = nn.Parameter(torch.zeros(rows, dim, device=device)) if item_offset else None
        self.item_bias = nn.Parameter(torch.zeros(rows, device=device)) if item_bias else None
        if freeze_encoder:
            encoder.requires_grad_(False)
            encoder.eval()

    # --- modes ---------------------------------------------------------------------------
    def train(self, mode: bool = True) -> TransferModel:
        super().train(mode)
        if self.freeze_encoder:
            self.encoder.eval()  # a frozen encoder always extracts deterministically
        return self

    @property
    def num_items(self) -> int:
        return self.encoder.num_items

    @property
    def padding_invariant(self) -> bool:
        """Whether every encoder inside ignores left padding (see ``Encoder.padding_invariant``)."""
        return all(module.padding_invariant for module in self.modules() if isinstance(module, Encoder))

    @property
    def max_length(self) -> int:
        return int(self.encoder.config.max_length)

    @property
    def features_frozen(self) -> bool:
        """True when features never change during training (so they can be computed once)."""
        return self.freeze_encoder and self.adapter is None

    # --- features ------------------------------------------------------------------------
    def extract(self, history: torch.Tensor) -> torch.Tensor:
        """Raw extracted features ``(B, F)`` (no adapter)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_encoder):
            return self.extractor.extract(self.encoder, history)

    def features(self, history: torch.Tensor) -> torch.Tensor:
        """Features ``(B, F')`` the head reads."""
        features = self.extract(history)
        return features if self.adapter is None else self.adapter(features, history)

    def sequence_features(self, history: torch.Tensor) -> torch.Tensor | None:
        """Features at every position ``(B, L, F')``, or None (non-sequential encoders)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_encoder):
            features = self.extractor.extract_sequence(self.encoder, history)
        if features is None or self.adapter is None:
            return features
        return self.adapter.sequence(features, history)

    # --- items ---------------------------------------------------------------------------
    def item_vectors(self) -> torch.Tensor:
        """The item table the head scores against ``(I + 1, D)``."""
        items = self.encoder.item_vectors()
        return items if self.item_offset is None else items + self.item_offset

    def item_biases(self) -> torch.Tensor | None:
        """Per-item score biases ``(I + 1,)``: the encoder's own (if it has any) plus the learned one."""
        bias = None
        if _overrides_score_items(self.encoder):  # e.g. the GAN encoder's item bias
            items = self.encoder.item_vectors()
            bias = self.encoder.score_items(items.new_zeros(1, items.shape[1]))[0]
        if self.item_bias is not None:
            bias = self.item_bias if bias is None else bias + self.item_bias
        return bias

    @torch.no_grad()
    def resize_items(self, num_items: int, source_rows: torch.Tensor) -> None:
        """Move the trained model to another catalogue (``source_rows`` as in
        ``Encoder.resize_items``): every encoder inside, and the item offsets and biases."""
        for module in self.modules():
            if isinstance(module, Encoder):
                module.resize_items(num_items, source_rows)
            if isinstance(module, TransferModel):  # this one, and any inside (a blend's partner)
                for param in (module.item_offset, module.item_bias):
                    if param is not None:  # learned target-side offsets: new items start at none
                        remap_item_rows(param, num_items, source_rows, "zeros")

    # --- scores --------------------------------------------------------------------------
    def score(self, features: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, I + 1)`` of every item for head features ``(B, F')``."""
        scores = self.head(features, self.item_vectors())
        bias = self.item_biases()
        return scores if bias is None else scores + bias

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, I + 1)`` of every item for right-aligned histories ``(B, L)``."""
        return self.score(self.features(history))

    def scorer(self, device: torch.device) -> Scorer:
        """Histories to scores over every target item, as evaluation and recommendation rank
        them (:func:`recgraft.engine.scoring.scorer`: features in mixed precision, scores in float32)."""
        return scorer(self.features, self.score, device)

    def pair_logits(self, history: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, K)`` of candidate item ids ``(B, K)`` (the binary task)."""
        logits = self.head.pair_logits(self.features(history), self.item_vectors()[items])
        bias = self.item_biases()
        return logits if bias is None else logits + bias[items]

    def loss(self, features: torch.Tensor, targets: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The head's training loss for head features ``(N, F')`` and next items ``(N,)``."""
        return self.head.loss(features, targets, self.item_vectors(), self.item_biases(), generator)

    def training_features(self, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Head features and next items at every target position of windows ``(B, L)``.

        Sequential models predict at every position; others predict each of the window's
        targets from the whole window (as the encoders' own next-item loss does).
        """
        features = self.sequence_features(inputs)
        if features is None:
            features = self.features(inputs).unsqueeze(1).expand(-1, inputs.shape[1], -1)
        mask = targets > 0
        return features[mask], targets[mask]
