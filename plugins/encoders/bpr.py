"""BPR-MF without user ids: a user is the (normalised) sum of its history's item embeddings.

Rendle et al., "BPR: Bayesian Personalized Ranking from Implicit Feedback", UAI 2009,
with the user factor replaced by the sum of the history's input embeddings over the
square root of their number (FISM, Kabbur et al., KDD 2013, alpha = 0.5), so a model scores any history, also of a user it has
never seen. Each step splits every training window's items at random into what the user
is shown (the user vector) and what it should rank (positives), and raises each
positive's score above a uniformly sampled item's (``-log sigmoid(s_pos - s_neg)``,
plus an L2 penalty on the factors used).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from recgraft.components import MAX_LENGTH
from recgraft.encoder import Encoder, EncoderConfig
from recgraft.engine import NextItemExamples, TrainConfig
from recgraft.item_features import ItemTable, item_id_rows, item_table, needs_item_table, table_rows
from recgraft.objective import PretrainingObjective


class BPRConfig(EncoderConfig):
    max_length: int = Field(200, ge=1, le=MAX_LENGTH, description="histories are truncated to their most recent items")
    shown: float = Field(0.5, gt=0, lt=1, description="share of a training window's items in the user vector; "
                                                      "the rest are the positives ranked")
    l2: float = Field(1e-5, ge=0, description="L2 penalty on the user vectors and item factors of each step")


class BPREncoder(Encoder):
    """BPR-MF, users as the normalised sum of their history's input embeddings."""

    Config = BPRConfig
    padding_invariant = True  # padding never enters the sum or the count

    def __init__(self, config: BPRConfig, num_items: int) -> None:
        super().__init__(config, num_items)
        self.input_embedding = item_table(config, num_items, config.embedding_dim, std=0.1)
        self.item_embedding: nn.Parameter | ItemTable
        if needs_item_table(config):  # the item factors from features too
            self.item_embedding = ItemTable.from_config(config, num_items, config.embedding_dim, std=0.1)
        else:
            self.item_embedding = nn.Parameter(torch.empty(num_items + 1, config.embedding_dim))
        with torch.no_grad():
            for table in (self.input_embedding.weight, self.item_embedding):
                if isinstance(table, nn.Parameter):  # plain tables (an ItemTable initialises its own)
                    nn.init.normal_(table, std=0.1)
                    table[0] = 0

    def hidden_layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        history = history[:, -self.config.max_length :]
        embedded = self.input_embedding(history)
        present = (history > 0).unsqueeze(-1).to(embedded.dtype)
        # FISM's normalisation (alpha = 0.5): the sum over the square root of the count.
        user = (embedded * present).sum(1) / present.sum(1).clamp(min=1).sqrt()
        return {"embedding": embedded, "output": user}

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        return self.hidden_layers(history)["output"]

    def item_vectors(self) -> torch.Tensor:
        return table_rows(self.item_embedding)

    def item_parameters(self) -> list[nn.Parameter]:
        return item_id_rows(self, self.input_embedding.weight, self.item_embedding)

    def pretraining_objective(self, train: TrainConfig) -> PretrainingObjective:
        return BPRObjective(self, train)


class BPRLoss(nn.Module):
    """The BPR loss of one batch as a module (for data-parallel training)."""

    def __init__(self, encoder: BPREncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, shown: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        config = self.encoder.config
        assert isinstance(config, BPRConfig)
        users = self.encoder(shown)  # (B, D)
        items = self.encoder.item_vectors()
        mask = positives > 0
        pos = (users.unsqueeze(1) * items[positives]).sum(-1)  # (B, L)
        neg = (users.unsqueeze(1) * items[negatives]).sum(-1)
        loss = -F.logsigmoid((pos - neg).float())[mask].mean()
        penalty = users.pow(2).sum() + items[positives[mask]].pow(2).sum() + items[negatives[mask]].pow(2).sum()
        return loss + config.l2 * penalty / max(int(mask.sum()), 1)


class BPRObjective(PretrainingObjective):
    """One Adam step of BPR per batch: random shown / positive halves of each window."""

    def __init__(self, encoder: BPREncoder, train: TrainConfig) -> None:
        super().__init__(encoder, train)
        self.bpr = encoder
        self.loss = self.parallel(BPRLoss(encoder))
        self.optimizer = torch.optim.Adam(encoder.parameters(), lr=train.learning_rate, weight_decay=train.weight_decay)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.optimizer]

    def step(self, batch: NextItemExamples) -> dict[str, float]:
        config = self.bpr.config
        assert isinstance(config, BPRConfig)
        # Every item of the window: its first (the first non-padding input), then the targets.
        first = batch.inputs.gather(1, (batch.inputs > 0).int().argmax(1, keepdim=True))
        items = torch.cat([first, batch.targets], dim=1)
        show = torch.rand(items.shape, device=items.device) < config.shown
        shown = items * show
        positives = items * ~show
        negatives = torch.randint(1, self.bpr.num_items + 1, items.shape, device=items.device)
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(shown, positives, negatives)
        loss.backward()
        self.synchronize(self.optimizer)
        if self.train.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.bpr.parameters(), self.train.clip_grad_norm)
        self.optimizer.step()
        return {"loss": float(loss.detach())}
