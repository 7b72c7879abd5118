"""Non-sequential baselines fitted in closed form: ``popular``, ``ease`` and ``itemknn``.

Each is an ordinary encoder, so every command (pretrain, evaluate, recommend, serve,
export) takes it and the registry stores it like any checkpoint. A user is its history:
the user vector is the multi-hot of the history over the catalogue (column 0, padding,
always 0), so no user ids are learnt and a model scores any history.

- ``popular``: every user gets the same scores, the items' training counts (scaled to
  at most 1); the user vector is a constant 1, the item table one popularity column.
- ``ease``: Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019. With
  the training Gram matrix ``G = X^T X``, ``P = (G + lambda I)^-1`` and
  ``B = I - P diag(1 / diag(P))`` (zero diagonal), a user's scores are ``x B``: the item
  table is ``B^T``, ``(num_items + 1) x (num_items + 1)``.
- ``itemknn``: item-item cosine similarity of the training columns of ``X``, each item
  keeping its ``k`` most similar items; a user's score of item ``j`` sums ``j``'s
  similarities to the history's items.

How they are fitted. The weights are parameters (zero before fitting), so checkpoints
save and load them like any encoder's, and gradient training (the contract's check, a
transfer strategy) can still move them. The encoder's objective reads each training
window once, in the first epoch: a window's items (inputs and targets) are one row of
``X``, accumulated into ``G`` (``max_length`` is therefore large by default: a history
longer than it counts as several rows). The closed form is solved when the loop
validates, i.e. when it switches the module to evaluation (``eval()``) or reads its
``state_dict``, both of which the epoch loop does at the end of an epoch and nowhere
else.

How lambda and k are chosen. The grid is a config field (``l2_grid``, ``neighbours_grid``),
and epoch ``e`` fits the ``e``-th candidate from the same ``G``: the loop's validation
NDCG@10, best-epoch restore and patience then choose among them with no new mechanism,
and the checkpoint records the chosen value (the ``chosen`` buffer, also in the
registry record's ``best_epoch``). Once the grid is tried, later epochs change nothing,
so ``patience`` ends the run; ``--epochs`` at the grid's length stops it at once. This
needs ``eval_every = 1`` (one validation per candidate), which the objective checks.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.distributed as torch_distributed
from pydantic import Field, field_validator
from torch import nn

from recgraft.components import MAX_LENGTH
from recgraft.encoder import Encoder, EncoderConfig
from recgraft.engine import NextItemExamples, TrainConfig
from recgraft.errors import ConfigError
from recgraft.objective import PretrainingObjective

DEFAULT_LENGTH = 1000


class BaselineConfig(EncoderConfig):
    embedding_dim: int = Field(1, ge=1, description="unused: the user vector is the history's multi-hot")
    max_length: int = Field(
        DEFAULT_LENGTH, ge=1, le=MAX_LENGTH,
        description="histories are truncated to their most recent items (a longer training history counts "
                    "as several rows of the interaction matrix)",
    )


class EASEConfig(BaselineConfig):
    l2_grid: list[float] = Field(
        [50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0],
        description="L2 penalties (lambda) tried, one per epoch; validation NDCG@10 chooses",
    )

    @field_validator("l2_grid")
    @classmethod
    def _check_grid(cls, values: list[float]) -> list[float]:
        if not values or any(v <= 0 for v in values):
            raise ValueError("needs at least one lambda, each > 0")
        return values


class ItemKNNConfig(BaselineConfig):
    neighbours_grid: list[int] = Field(
        [10, 20, 50, 100, 200, 500],
        description="neighbourhood sizes (k) tried, one per epoch; validation NDCG@10 chooses",
    )

    @field_validator("neighbours_grid")
    @classmethod
    def _check_grid(cls, values: list[int]) -> list[int]:
        if not values or any(v < 1 for v in values):
            raise ValueError("needs at least one k, each >= 1")
        return values


class PopularConfig(BaselineConfig):
    pass


def multi_hot(history: torch.Tensor, num_columns: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(B, L)`` item ids (0 = padding) to ``(B, num_columns)`` 0/1 rows, column 0 cleared."""
    rows = torch.zeros(history.shape[0], num_columns, dtype=dtype, device=history.device)
    rows.scatter_(1, history, 1.0)
    rows[:, 0] = 0
    return rows


class BaselineEncoder(Encoder):
    """What the three baselines share: multi-hot users, a ``weight`` item table fitted in
    closed form from the Gram matrix by :class:`ClosedFormObjective`."""

    Config = BaselineConfig
    padding_invariant = True  # the multi-hot ignores padding
    #: Whether fitting reads the Gram matrix (else only the item counts).
    needs_gram: ClassVar[bool] = True
    columns: torch.Tensor
    chosen: torch.Tensor

    def __init__(self, config: BaselineConfig, num_items: int) -> None:
        super().__init__(config, num_items)
        if config.item_features or not config.item_ids:
            raise ConfigError(f"encoder '{type(self).__name__}' is a closed-form model over item ids and takes no "
                              "item_features (use transformer, lstm, gan or bpr)")
        self.weight = nn.Parameter(torch.zeros(num_items + 1, self.table_columns(num_items)))
        # Which column of the user vector an item id fills: the identity until the
        # catalogue is resized (new items then fill none, old ones keep their column).
        self.register_buffer("columns", torch.arange(num_items + 1))
        # The chosen candidate (lambda or k; 0 before fitting): saved with the weights.
        self.register_buffer("chosen", torch.zeros(()))
        self._pending: Any = None  # the objective's solve, run at the end of an epoch
        self.register_state_dict_pre_hook(_solve_before_saving)

    def table_columns(self, num_items: int) -> int:
        return num_items + 1

    # --- fitting -----------------------------------------------------------------------
    def candidates(self) -> list[float]:
        return [0.0]

    def fit_weights(self, gram: torch.Tensor, counts: torch.Tensor, candidate: float) -> torch.Tensor:
        """The item table for one candidate from ``G`` (``(I+1, I+1)``) and the item counts."""
        raise NotImplementedError

    def solve_pending(self) -> None:
        if self._pending is not None:
            solve, self._pending = self._pending, None
            solve()

    def train(self, mode: bool = True) -> BaselineEncoder:
        if not mode:
            self.solve_pending()
        return super().train(mode)

    def pretraining_objective(self, train: TrainConfig) -> PretrainingObjective:
        return ClosedFormObjective(self, train)

    # --- the encoder contract ----------------------------------------------------------
    def user_vector(self, history: torch.Tensor) -> torch.Tensor:
        history = history[:, -self.config.max_length :]
        return multi_hot(self.columns[history], self.weight.shape[1], self.weight.dtype)

    def hidden_layers(self, history: torch.Tensor) -> dict[str, torch.Tensor]:
        history = history[:, -self.config.max_length :]
        return {"embedding": multi_hot(history, self.num_items + 1, self.weight.dtype),
                "output": self.user_vector(history)}

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        return self.user_vector(history)

    def item_vectors(self) -> torch.Tensor:
        self.solve_pending()
        return self.weight

    @property
    def output_dim(self) -> int:
        return int(self.weight.shape[1])

    @torch.no_grad()
    def resize_items(self, num_items: int, source_rows: torch.Tensor) -> None:
        columns = self.columns
        super().resize_items(num_items, source_rows)
        known = source_rows >= 0
        fresh = torch.zeros(num_items + 1, dtype=columns.dtype, device=columns.device)
        fresh[known] = columns[source_rows[known]]
        self.columns = fresh


def _solve_before_saving(module: BaselineEncoder, *args: object) -> None:
    """A state dict holds the solved weights (a module-level function: the module pickles)."""
    module.solve_pending()


class ClosedFormObjective(PretrainingObjective):
    """Epoch 1 accumulates ``G = X^T X`` over the training windows; the end of each epoch
    (the loop's ``eval()`` before validating) solves for the next candidate of the grid."""

    def __init__(self, encoder: BaselineEncoder, train: TrainConfig) -> None:
        super().__init__(encoder, train)
        if train.eval_every != 1:
            raise ConfigError(f"encoder '{type(encoder).__name__}' fits one candidate per epoch and needs "
                              f"train.eval_every = 1, not {train.eval_every}")
        self.baseline = encoder
        columns = encoder.num_items + 1
        device = encoder.weight.device
        size = columns if encoder.needs_gram else 0
        self.gram = torch.zeros(size, size, device=device)
        self.counts = torch.zeros(columns, device=device)
        self.candidate = -1  # index in the grid of the last candidate solved; -1: none yet
        self.accumulating = True

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return []

    def step(self, batch: NextItemExamples) -> dict[str, float]:
        grid = self.baseline.candidates()
        if self.accumulating:
            with torch.autocast(batch.inputs.device.type, enabled=False):
                x = multi_hot(torch.cat([batch.inputs, batch.targets], dim=1), self.counts.shape[0])
                x = x.to(self.counts.device)
                if self.baseline.needs_gram:
                    self.gram.addmm_(x.T, x)
                self.counts += x.sum(0)
            self.baseline._pending = self._solve
        elif self.baseline._pending is None and self.candidate + 1 < len(grid):
            self.baseline._pending = self._solve  # the first step of a later epoch: the next candidate
        fitting = self.candidate + 1 if self.baseline._pending is not None else self.candidate
        return {"candidate": float(grid[min(max(fitting, 0), len(grid) - 1)])}

    def _solve(self) -> None:
        if self.accumulating:
            self.accumulating = False
            if torch_distributed.is_available() and torch_distributed.is_initialized():
                torch_distributed.all_reduce(self.gram)
                torch_distributed.all_reduce(self.counts)
        grid = self.baseline.candidates()
        self.candidate = min(self.candidate + 1, len(grid) - 1)
        value = grid[self.candidate]
        with torch.no_grad(), torch.autocast(self.gram.device.type, enabled=False):
            weights = self.baseline.fit_weights(self.gram, self.counts, value)
            self.baseline.weight.data.copy_(weights.to(self.baseline.weight.dtype))
            self.baseline.chosen.fill_(value)

    def state_dict(self) -> dict[str, object]:
        return {"gram": self.gram, "counts": self.counts, "candidate": self.candidate,
                "accumulating": self.accumulating}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.gram.copy_(state["gram"])  # type: ignore[arg-type]
        self.counts.copy_(state["counts"])  # type: ignore[arg-type]
        self.candidate = int(state["candidate"])  # type: ignore[call-overload]
        self.accumulating = bool(state["accumulating"])


def ease_weights(gram: torch.Tensor, l2: float) -> torch.Tensor:
    """EASE's ``B`` (zero diagonal) for Gram matrix ``gram``: ``I - P diag(1/diag(P))``."""
    dense = gram.float()
    regularised = dense + l2 * torch.eye(dense.shape[0], dtype=dense.dtype, device=dense.device)
    precision = torch.cholesky_inverse(torch.linalg.cholesky(regularised))
    weights = -precision / torch.diagonal(precision).unsqueeze(0)
    weights.fill_diagonal_(0.0)
    return weights


def knn_weights(gram: torch.Tensor, k: int) -> torch.Tensor:
    """Cosine similarities ``S[j, i]`` of item columns, each row ``j`` keeping its ``k``
    largest (diagonal and padding 0)."""
    norms = torch.diagonal(gram).sqrt().clamp(min=1e-12)
    similarity = gram / norms.unsqueeze(0) / norms.unsqueeze(1)
    similarity.fill_diagonal_(0.0)
    similarity[0], similarity[:, 0] = 0.0, 0.0
    k = min(k, similarity.shape[1])
    values, index = similarity.topk(k, dim=1)
    return torch.zeros_like(similarity).scatter_(1, index, values)


class EASEEncoder(BaselineEncoder):
    """EASE (closed form): the item table is ``B^T``, lambda chosen on validation."""

    Config = EASEConfig

    def candidates(self) -> list[float]:
        config = self.config
        assert isinstance(config, EASEConfig)
        return list(config.l2_grid)

    def fit_weights(self, gram: torch.Tensor, counts: torch.Tensor, candidate: float) -> torch.Tensor:
        weights = ease_weights(gram, candidate)
        weights[0], weights[:, 0] = 0.0, 0.0
        return weights.T  # row j: what each history item adds to item j's score


class ItemKNNEncoder(BaselineEncoder):
    """Item-item cosine kNN, the neighbourhood size chosen on validation."""

    Config = ItemKNNConfig

    def candidates(self) -> list[float]:
        config = self.config
        assert isinstance(config, ItemKNNConfig)
        return [float(k) for k in config.neighbours_grid]

    def fit_weights(self, gram: torch.Tensor, counts: torch.Tensor, candidate: float) -> torch.Tensor:
        return knn_weights(gram, int(candidate))


class PopularEncoder(BaselineEncoder):
    """Most popular: the same scores (training counts) for every history."""

    Config = PopularConfig
    needs_gram = False

    def table_columns(self, num_items: int) -> int:
        return 1

    def user_vector(self, history: torch.Tensor) -> torch.Tensor:
        return torch.ones(history.shape[0], 1, dtype=self.weight.dtype, device=history.device)

    def fit_weights(self, gram: torch.Tensor, counts: torch.Tensor, candidate: float) -> torch.Tensor:
        popularity = counts.clone()
        popularity[0] = 0
        return (popularity / popularity.max().clamp(min=1)).unsqueeze(1)
