"""CFGAN-style adversarially trained encoder.

Chae et al., "CFGAN: A Generic Collaborative Filtering Framework based on Generative
Adversarial Networks", CIKM 2018. The generator maps a user's (multi-hot) history through
hidden layers, whose last output is the user vector, to a score for every item; the output
layer's weights are the item embeddings. A discriminator conditioned on the history tells
real interaction vectors from generated ones masked to the real items plus sampled
negatives (partial masking), while sampled negatives are pushed to zero (zero
reconstruction). The generator is conditioned on a randomly thinned history, so it learns
to produce the items a user has that it was not shown. A next-item likelihood term (the
generator applied to every prefix of the history predicts the item after it; weight
``reconstruction_weight``, 0 for pure CFGAN) ties it to the sequential task it is judged on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from recgraft.components import MAX_COUNT, MAX_DIM, MAX_LAYERS, MAX_LENGTH
from recgraft.encoder import Encoder, EncoderConfig
from recgraft.engine import NextItemExamples, TrainConfig
from recgraft.item_features import ItemTable, item_id_rows, item_table, needs_item_table, table_rows
from recgraft.objective import PretrainingObjective, next_item_loss


class GANEncoderConfig(EncoderConfig):
    hidden_dim: int = Field(256, ge=1, le=MAX_DIM, description="width of the generator's history vector and hidden layers")
    num_hidden_layers: int = Field(
        1, ge=0, le=MAX_LAYERS, description="tanh layers between the history vector and the user vector (0: none)"
    )
    dropout: float = Field(0.2, ge=0, lt=1, description="dropout rate on the item embeddings and before each layer")
    max_length: int = Field(200, ge=1, le=MAX_LENGTH, description="histories are truncated to their most recent items")
    discriminator_dim: int = Field(128, ge=1, le=MAX_DIM, description="hidden width of the discriminator (pretraining only)")
    recency_decay: float = Field(
        0.9, gt=0, le=1, description="weight of an item in the history vector per step back in time (1 = plain multi-hot)"
    )
    condition_keep: float = Field(0.5, gt=0, le=1, description="share of the history the generator is shown")
    zero_reconstruction_ratio: float = Field(0.5, ge=0, le=1, description="share of negatives pushed to zero")
    zero_reconstruction_weight: float = Field(
        1.0, ge=0, description="weight in the generator's loss of pushing the negatives' scores to zero"
    )
    partial_masking_ratio: float = Field(0.5, ge=0, le=1, description="share of negatives shown to the discriminator")
    adversarial_weight: float = Field(
        0.1, ge=0, description="weight of the discriminator's signal in the generator's loss"
    )
    discriminator_steps: int = Field(1, ge=1, le=MAX_COUNT, description="discriminator updates per generator update")
    reconstruction_weight: float = Field(
        1.0, ge=0,
        description="weight of a next-item likelihood term (every prefix predicts the item after it) "
        "added to the generator's loss; 0 = pure CFGAN",
    )


def multi_hot(items: torch.Tensor, num_columns: int) -> torch.Tensor:
    """``(B, L)`` item ids (0 = padding) to ``(B, num_columns)`` 0/1 vectors with column 0 cleared."""
    out = torch.zeros(items.shape[0], num_columns, device=items.device)
    out.scatter_(1, items, 1.0)
    out[:, 0] = 0.0
    return out


class GANEncoder(Encoder):
    """The CFGAN generator: history -> hidden layers (user vector) -> item scores."""

    Config = GANEncoderConfig
    padding_invariant = True

    def __init__(self, config: GANEncoderConfig, num_items: int) -> None:
        super().__init__(config, num_items)
        self.input_embedding = item_table(config, num_items, config.hidden_dim, std=config.hidden_dim**-0.5)
        self.input_bias = nn.Parameter(torch.zeros(config.hidden_dim))
        self.hidden = nn.ModuleList(
            nn.Linear(config.hidden_dim, config.hidden_dim) for _ in range(config.num_hidden_layers)
        )
        self.projection = nn.Linear(config.hidden_dim, config.embedding_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.item_embedding: nn.Parameter | ItemTable
        if needs_item_table(config):  # the output layer's item rows from features too
            self.item_embedding = ItemTable.from_config(config, num_items, config.embedding_dim)
        else:
            self.item_embedding = nn.Parameter(torch.randn(num_items + 1, config.embedding_dim) * config.embedding_dim**-0.5)
        self.item_bias = nn.Parameter(torch.zeros(num_items + 1))
        if isinstance(self.input_embedding, nn.Embedding):
            nn.init.normal_(self.input_embedding.weight, std=config.hidden_dim**-0.5)

    def _layers(self, history: torch.Tensor, prefixes: bool) -> dict[str, torch.Tensor]:
        """Hidden layers for the whole history ``(B, D)`` or, with ``prefixes``, for each prefix ``(B, L, D)``."""
        history = history[:, -self.config.max_length :]
        embedded = self.dropout(self.input_embedding(history))  # (B, L, H)
        # The history vector's weights: decay**(steps back) for each prefix end t, (L, L).
        length = history.shape[1]
        steps = torch.arange(length, device=history.device)
        back = (steps.unsqueeze(1) - steps.unsqueeze(0)).clamp(min=0).float()
        weights = (self.config.recency_decay**back).tril()
        if not prefixes:
            weights = weights[-1:]  # only the whole history
        weights = weights.unsqueeze(0) * (history > 0).float().unsqueeze(1)  # (B, T, L)
        summed = weights @ embedded  # (B, T, H)
        norm = weights.pow(2).sum(-1, keepdim=True).sqrt().clamp(min=1e-6)
        x = torch.tanh(summed / norm + self.input_bias)
        if not prefixes:
            x = x[:, 0]
        layers = {"input": x}
        for i, linear in enumerate(self.hidden, start=1):
            x = torch.tanh(linear(self.dropout(x)))
            layers[f"hidden{i}"] = x
        user = self.projection(self.dropout(x))
        # A constant last feature scores against the item biases (see item_vectors).
        layers["output"] = torch.cat([user, torch.ones_like(user[..., :1])], dim=-1)
        return layers

    def hidden_layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        return self._layers(history, prefixes=False)

    def sequence_output(self, history: torch.Tensor) -> torch.Tensor:
        # The generator applied to every prefix of the history: what it predicts after each item.
        return self._layers(history, prefixes=True)["output"]

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        return self._layers(history, prefixes=False)["output"]

    def item_vectors(self) -> torch.Tensor:
        # The output layer: item embeddings with each item's bias as a last column.
        return torch.cat([table_rows(self.item_embedding), self.item_bias.unsqueeze(1)], dim=1)

    def item_parameters(self) -> list[nn.Parameter]:
        return [*item_id_rows(self, self.input_embedding.weight, self.item_embedding), self.item_bias]

    def pretraining_objective(self, train: TrainConfig) -> PretrainingObjective:
        return AdversarialObjective(self, train)


class Discriminator(nn.Module):
    """Tells a real interaction vector from a generated one, given the user's history."""

    def __init__(self, num_columns: int, hidden: int) -> None:
        super().__init__()
        self.network = nn.Sequential(nn.Linear(2 * num_columns, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, vector: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.network(torch.cat([vector, condition], dim=1)).squeeze(1)  # (B,) logits


class DiscriminatorLoss(nn.Module):
    """The discriminator's loss on real and (detached) generated vectors, as one module."""

    def __init__(self, discriminator: Discriminator) -> None:
        super().__init__()
        self.discriminator = discriminator

    def forward(self, real: torch.Tensor, fake: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        real_logit = self.discriminator(real, condition)
        fake_logit = self.discriminator(fake, condition)
        return F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit)) + \
            F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))


class GeneratorLoss(nn.Module):
    """The generator's loss (adversarial, zero-reconstruction and next-item terms) as one
    module; the discriminator is read, not trained, so it is not a submodule."""

    def __init__(self, generator: GANEncoder, discriminator: Discriminator) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = [discriminator]  # a list: not registered, so DDP leaves its parameters alone
        self.settings = generator.config
        assert isinstance(self.settings, GANEncoderConfig)

    def forward(self, batch_inputs: torch.Tensor, batch_targets: torch.Tensor, condition_items: torch.Tensor,
                condition: torch.Tensor, shown: torch.Tensor, zero: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        settings = self.settings
        assert isinstance(settings, GANEncoderConfig)
        discriminator = self.discriminator[0]
        generated = torch.sigmoid(self.generator.score_items(self.generator(condition_items)).float())
        discriminator.requires_grad_(False)  # its gradient is not wanted here (its own step computes it)
        try:
            fake_logit = discriminator(generated * shown, condition)
        finally:
            discriminator.requires_grad_(True)
        adversarial = F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))
        # Averaged over the sampled items, so the weight does not depend on the catalogue size.
        zero_reconstruction = ((generated * zero) ** 2).sum() / zero.sum().clamp(min=1)
        loss = settings.adversarial_weight * adversarial + settings.zero_reconstruction_weight * zero_reconstruction
        if settings.reconstruction_weight:
            # The generator applied to every prefix of the history predicts the item that follows.
            likelihood = next_item_loss(self.generator, batch_inputs, batch_targets)
            loss = loss + settings.reconstruction_weight * likelihood
        return loss, adversarial.detach()


class AdversarialObjective(PretrainingObjective):
    """Alternating discriminator and generator updates, each with its own optimiser (CFGAN ZR + PM);
    under torchrun each loss is its own ``DistributedDataParallel`` module."""

    def __init__(self, encoder: GANEncoder, train: TrainConfig) -> None:
        super().__init__(encoder, train)
        self.generator = encoder
        config = encoder.config
        assert isinstance(config, GANEncoderConfig)
        self.settings = config
        device = encoder.item_bias.device
        self.discriminator = Discriminator(encoder.num_items + 1, config.discriminator_dim).to(device)
        self.discriminator_loss = self.parallel(DiscriminatorLoss(self.discriminator))
        self.generator_loss = self.parallel(GeneratorLoss(encoder, self.discriminator))
        self.generator_optimizer = torch.optim.Adam(
            encoder.parameters(), lr=train.learning_rate, weight_decay=train.weight_decay
        )
        self.discriminator_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=train.learning_rate)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.generator_optimizer, self.discriminator_optimizer]

    def state_dict(self) -> dict[str, object]:
        return {**super().state_dict(), "discriminator": self.discriminator.state_dict()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        super().load_state_dict(state)
        self.discriminator.load_state_dict(state["discriminator"])  # type: ignore[arg-type]

    def _vectors(self, batch: NextItemExamples) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Real vector, thinned condition, zero-reconstruction and partial-masking negatives."""
        columns = self.generator.num_items + 1
        history = torch.cat([batch.inputs, batch.targets[:, -1:]], dim=1)
        real = multi_hot(history, columns)
        kept = batch.inputs * (torch.rand(batch.inputs.shape, device=history.device) < self.settings.condition_keep)
        kept = torch.cat([kept, batch.targets[:, -1:] * 0], dim=1)
        negatives = (real == 0)
        negatives[:, 0] = False
        zero = negatives & (torch.rand_like(real) < self.settings.zero_reconstruction_ratio)
        partial = negatives & (torch.rand_like(real) < self.settings.partial_masking_ratio)
        return real, kept, zero, partial

    def step(self, batch: NextItemExamples) -> dict[str, float]:
        real, condition_items, zero, partial = self._vectors(batch)
        condition = multi_hot(condition_items, real.shape[1])
        shown = real + partial.float()  # what the discriminator sees of a generated vector
        for _ in range(self.settings.discriminator_steps):
            with torch.no_grad():
                generated = torch.sigmoid(self.generator.score_items(self.generator(condition_items)).float())
            discriminator_loss = self.discriminator_loss(real, generated * shown, condition)
            self.discriminator_optimizer.zero_grad(set_to_none=True)
            discriminator_loss.backward()
            self.discriminator_optimizer.step()

        generator_loss, adversarial = self.generator_loss(batch.inputs, batch.targets, condition_items, condition,
                                                          shown, zero)
        self.generator_optimizer.zero_grad(set_to_none=True)
        generator_loss.backward()
        self.generator_optimizer.step()
        return {
            "loss": float(generator_loss.detach()),
            "d_loss": float(discriminator_loss.detach()),
            "g_adv": float(adversarial),
        }
