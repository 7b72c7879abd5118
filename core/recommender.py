"""Any recgraft checkpoint as a recommender: load, score, evaluate on a domain, recommend.

Pretrained and transferred checkpoints alike carry their item vocabulary, so a model can
be used with nothing but its bytes. When it is evaluated on a domain whose item ids differ
from its own, histories and scores are translated through the item tokens: items the model
does not know are left out of histories and can never be recommended (a held-out item the
model does not know counts as a miss), unless the model has item features: then
:meth:`Recommender.on_catalogue` moves it onto the domain's catalogue, and a new item gets
its vector from its features (zero-shot on items the model never trained on).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from recgraft.checkpoint import CheckpointContents, from_bytes
from recgraft.checkpoint.modules import model_from_checkpoint
from recgraft.data.domain import Vocabulary
from recgraft.data.split import Split, Stage
from recgraft.encoder import Encoder
from recgraft.engine.batching import padded_histories
from recgraft.engine.evaluation import evaluate
from recgraft.engine.metrics import binary_metrics
from recgraft.engine.scoring import Scorer
from recgraft.errors import DataError
from recgraft.item_features import freeze_item_tables
from recgraft.transfer_model import TransferModel

if TYPE_CHECKING:
    import pandas as pd

    from recgraft.data.domain import Domain
    from recgraft.registry import CheckpointRecord, Registry

PairScorer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (B, L), (B, K) -> logits (B, K)


def _tokens_to_ids(items: Vocabulary, tokens: Sequence[str], strict: bool) -> list[int]:
    ids = items.lookup(np.asarray(list(tokens), dtype=object))
    unknown = [t for t, i in zip(tokens, ids, strict=True) if i == 0]
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        if strict:
            raise DataError(f"unknown item(s) for this checkpoint: {shown}")
        warnings.warn(f"skipping {len(unknown)} item(s) the checkpoint does not know: {shown}", stacklevel=3)
    return [int(i) for i in ids if i > 0]


def score_histories(
    score: Scorer, histories: Sequence[Sequence[int]], max_length: int, device: torch.device | str = "cpu",
    padding_invariant: bool = False,
) -> torch.Tensor:
    """Scores ``(B, I + 1)`` of histories of item ids (oldest first, any lengths) in one forward pass.

    Each history is cut to its last ``max_length`` items and right-aligned; the batch is padded
    on the left to its longest history when the encoder ignores padding, else to ``max_length``
    (as evaluation does), so a history scores the same alone or in any batch.
    """
    windows = [list(h)[-max_length:] for h in histories]
    width = max((len(w) for w in windows), default=1) if padding_invariant else max_length
    width = max(width, 1)
    inputs = torch.zeros((len(windows), width), dtype=torch.long)
    for row, window in enumerate(windows):
        if window:
            inputs[row, width - len(window):] = torch.tensor(window, dtype=torch.long)
    with torch.no_grad():
        return score(inputs.to(device)).float().cpu()


def top_items(
    scores: torch.Tensor, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
) -> list[list[tuple[int, float]]]:
    """The top ``k`` (item id, score) of each row of ``scores``; padding (id 0), items the model
    cannot recommend (score -inf, NaN or overflow) and, with ``exclude_history``, the row's
    history never appear."""
    scores = scores.float().masked_fill(~torch.isfinite(scores), float("-inf"))  # a copy
    scores[:, 0] = float("-inf")
    if exclude_history:
        for row, history in enumerate(histories):
            if len(history):
                scores[row, torch.tensor(list(history), dtype=torch.long)] = float("-inf")
    top = torch.topk(scores, min(k, scores.shape[1]), dim=1)
    return [
        [(int(i), float(s)) for s, i in zip(values.tolist(), indices.tolist(), strict=True) if s != float("-inf")]
        for values, indices in zip(top.values, top.indices, strict=True)
    ]


def recommend_items(
    score: Scorer,
    items: Vocabulary,
    max_length: int,
    history: Sequence[str],
    k: int = 10,
    device: torch.device | str = "cpu",
    strict: bool = False,
    padding_invariant: bool = False,
    exclude_history: bool = True,
) -> list[tuple[str, float]]:
    """The top ``k`` items (token, score) after ``history`` (item tokens, oldest first).

    Items already in the history are not recommended unless ``exclude_history`` is false;
    items without a finite score (a diverged model) never are, so every score returned is finite.
    Unknown tokens raise a DataError with ``strict``, else are skipped with a warning.
    """
    ids = _tokens_to_ids(items, history, strict)
    scores = score_histories(score, [ids], max_length, device, padding_invariant)
    return [(items.token(i), s) for i, s in top_items(scores, [ids], k, exclude_history)[0]]


def remap_scorer(score: Scorer, model_items: Vocabulary, data_items: Vocabulary, device: torch.device) -> tuple[Scorer, int]:
    """A scorer over ``data_items`` ids from one over ``model_items`` ids, and how many data items
    the model does not know. The same vocabulary gives the scorer back unchanged."""
    if model_items == data_items:
        return score, 0
    to_model = torch.from_numpy(model_items.lookup(data_items.tokens)).to(device)  # (I_data + 1,)
    to_model[0] = 0
    known = to_model > 0
    unknown = int((~known[1:]).sum())

    def remapped(histories: torch.Tensor) -> torch.Tensor:
        model_history = to_model[histories]
        # Keep the histories right-aligned after dropping unknown items.
        order = torch.sort((model_history > 0).int(), dim=1, stable=True).indices
        model_history = model_history.gather(1, order)
        scores = score(model_history).float()[:, to_model]  # (B, I_data + 1)
        return scores.masked_fill(~known, float("-inf"))

    return remapped, unknown


@torch.no_grad()
def binary_evaluation(
    pair_logits: PairScorer, split: Split, stage: Stage, max_length: int, device: torch.device,
    seed: int = 0, batch_size: int = 1024,
) -> dict[str, float | None]:
    """Accuracy, precision, recall, F1 and AUC of "will the user take this item": each held-out
    item of an evaluated user (one under leave-one-out, several under a ratio split) against
    one sampled item the user never had (seeded), scored after the user's history."""
    users = split.evaluated_users(stage)
    history = split.history(stage)
    held = split.held_out(stage)
    counts = held.lengths()[users]
    positives = held.padded(users)  # (U, T), 0-padded
    rng = np.random.default_rng(seed)
    num_items = split.domain.num_items
    negatives = np.zeros_like(positives)
    negatives[positives > 0] = rng.integers(1, num_items + 1, size=int(counts.sum()))
    seen = set(zip(history.rows().tolist(), history.items.tolist(), strict=True))
    seen |= set(zip(held.rows().tolist(), held.items.tolist(), strict=True))
    for row, column in zip(*np.nonzero(positives), strict=True):  # redraw the few negatives the user did have
        user = int(users[row])
        for _ in range(20):
            if (user, int(negatives[row, column])) not in seen:
                break
            negatives[row, column] = rng.integers(1, num_items + 1)
    probabilities, labels = [], []
    batch_size = max(1, batch_size // max(positives.shape[1], 1))  # about batch_size users' pairs at a time
    for start in range(0, len(users), batch_size):
        chunk = users[start : start + batch_size]
        inputs = padded_histories(history, chunk, max_length).to(device)
        pos, neg = positives[start : start + batch_size], negatives[start : start + batch_size]
        pairs = np.concatenate([pos, neg], 1)  # (B, 2T), 0 where a user has fewer held-out items
        scores = torch.sigmoid(pair_logits(inputs, torch.from_numpy(pairs).to(device)).float()).cpu()
        present = torch.from_numpy(pairs > 0)
        probabilities.append(scores[present])
        labels.append(torch.from_numpy(np.concatenate([np.ones_like(pos), np.zeros_like(neg)], 1))[present].float())
    if not probabilities:
        return binary_metrics([], [])
    return binary_metrics(torch.cat(probabilities), torch.cat(labels))


@dataclass
class Recommender:
    """A loaded checkpoint: a scorer over its own item vocabulary, and what it was."""

    score: Scorer
    items: Vocabulary
    max_length: int
    device: torch.device
    metadata: dict[str, Any] = field(default_factory=dict)
    pair_logits: PairScorer | None = None  # set for binary heads
    padding_invariant: bool = False  # see Encoder.padding_invariant
    module: torch.nn.Module | None = None  # the model ``score`` runs (holds its weights, for export)

    @property
    def kind(self) -> str:
        return str(self.metadata.get("kind", "pretrained"))

    def recommend(
        self, history: Sequence[str], k: int = 10, strict: bool = False, exclude_history: bool = True
    ) -> list[tuple[str, float]]:
        """The top ``k`` items (token, score) after ``history`` (item tokens, oldest first)."""
        return recommend_items(self.score, self.items, self.max_length, history, k, self.device, strict,
                               self.padding_invariant, exclude_history)

    def recommend_batch(
        self, histories: Sequence[Sequence[int]], k: int = 10, exclude_history: bool = True
    ) -> list[list[tuple[str, float]]]:
        """The top ``k`` items (token, score) after each history of item ids, in one forward pass."""
        scores = score_histories(self.score, histories, self.max_length, self.device, self.padding_invariant)
        return [[(self.items.token(i), s) for i, s in row] for row in top_items(scores, histories, k, exclude_history)]

    @property
    def uses_item_features(self) -> bool:
        """Whether item vectors come from item features (so new items can be scored)."""
        return self.module is not None and any(
            m.uses_item_features() for m in self.module.modules() if isinstance(m, Encoder))

    def known_items(self, items: Vocabulary) -> np.ndarray:
        """Bool per id of ``items``: the ones the source knew (a transfer's aligned items; a
        pretrained model's own), by token; the cold-item view's "known to the source"."""
        own = self.items
        if "aligned_items" in self.metadata:
            own = Vocabulary(self.items.tokens[[0, *self.metadata["aligned_items"]]])
        known = own.lookup(items.tokens) > 0
        known[0] = False
        return known

    def _source_groups(self, items: Vocabulary) -> np.ndarray | None:
        """:meth:`known_items` where the checkpoint says which items the source knew (a transfer
        written before ``aligned_items`` was recorded does not: no source groups then)."""
        if self.kind == "transfer" and "aligned_items" not in self.metadata:
            return None
        return self.known_items(items)

    def on_catalogue(self, domain: Domain, feature_map: Mapping[str, str] | None = None) -> Recommender:
        """This model over ``domain``'s items: the items it knows (by token) keep their vectors,
        new ones get theirs from their item features (``feature_map``: feature column -> the
        domain's column). The model itself when it has no item features or ``domain`` has no
        item it does not know (then histories and scores are translated by token, as before)."""
        if not self.uses_item_features:
            return self
        assert self.module is not None
        # imported here: the transfer package imports this module
        from recgraft.transfer.alignment import align_items

        alignment = align_items(self.items, domain.items)
        if alignment.matched == alignment.target_items:
            return self
        source_rows = torch.from_numpy(alignment.source_rows).to(self.device)
        module = copy.deepcopy(self.module)
        freeze_item_tables(module, frozen=False)  # rebuilt below, for the new catalogue
        module.resize_items(domain.num_items, source_rows)  # type: ignore[operator]
        for encoder in (m for m in module.modules() if isinstance(m, Encoder)):
            encoder.set_item_features(domain.item_features, f"domain {domain.name!r}", dict(feature_map or {}))
        metadata = {**self.metadata, "catalogue": {"domain": domain.name, "known": alignment.matched,
                                                   "new": alignment.target_items - alignment.matched}}
        rows = alignment.source_rows
        old = self.known_items(self.items)  # what the source knew, in the new catalogue's ids
        metadata["aligned_items"] = np.flatnonzero((rows > 0) & old[np.maximum(rows, 0)]).tolist()
        return recommender_for(module.eval(), domain.items, metadata, self.device)

    def evaluate(
        self, split: Split, stage: Stage = "test", breakdown: bool = False, batch_size: int = 1024,
        per_user: bool = False,
    ) -> dict[str, Any]:
        """Full-ranking metrics on ``split`` (translated to this model's items when they differ;
        a model with item features is moved onto the split's catalogue first); ``per_user`` adds
        each user's metrics at 10 (``result["per_user"]``, for a paired test against another model)."""
        model = self.on_catalogue(split.domain)
        if model is not self:
            return model.evaluate(split, stage, breakdown, batch_size, per_user)
        score, unknown = remap_scorer(self.score, self.items, split.domain.items, self.device)
        result = evaluate(score, split, stage, self.max_length, self.device, batch_size, breakdown,
                          trim_padding=self.padding_invariant, known_items=self._source_groups(split.domain.items),
                          per_user=per_user)
        result["unknown_items"] = unknown
        result["new_items"] = self.metadata.get("catalogue", {}).get("new", 0)  # scored from their features
        if self.pair_logits is not None and unknown == 0:
            result["binary"] = binary_evaluation(self.pair_logits, split, stage, self.max_length, self.device)
        return result


def load_recommender(
    data: bytes | CheckpointContents, device: torch.device | str = "cpu", source: str | None = None
) -> Recommender:
    """A recommender from checkpoint bytes: a pretrained encoder or a transferred model
    (``source``: the checkpoint's reference, named in errors)."""
    contents = from_bytes(data, source) if isinstance(data, bytes | bytearray) else data
    device = torch.device(device)
    return recommender_for(model_from_checkpoint(contents).to(device).eval(), contents.items, contents.metadata, device)


def recommender_for(model: Encoder | TransferModel, items: Vocabulary, metadata: dict[str, Any],
                    device: torch.device) -> Recommender:
    """The recommender of a model (in eval mode, on ``device``) over ``items``; its item tables
    with item features are computed once (it only scores)."""
    freeze_item_tables(model)
    if isinstance(model, TransferModel):
        pairs = model.pair_logits if model.head.binary else None
        return Recommender(model.scorer(device), items, model.max_length, device, metadata, pairs,
                           model.padding_invariant, model)
    return Recommender(model.scorer(device), items, int(model.config.max_length), device,
                       metadata, padding_invariant=model.padding_invariant, module=model)


def load_registered(registry: Registry, record: CheckpointRecord, device: torch.device | str = "cpu") -> Recommender:
    """The recommender of a registered checkpoint: its bytes read and verified, errors naming it."""
    return load_recommender(registry.read_bytes(record), device, record.reference)


def domain_histories(model: Recommender, domain: Domain) -> tuple[list[list[int]], int]:
    """Every user's whole history in ``domain`` (oldest first) as ``model``'s item ids, in user id
    order (user 1 first), items the model does not know left out (as ``recommend --user`` does);
    and how many of the domain's items the model does not know."""
    from recgraft.data.split import time_order

    to_model = model.items.lookup(domain.items.tokens)  # (I_data + 1,): 0 for an unknown item
    to_model[0] = 0
    order = time_order(domain)  # by user, then time
    items = to_model[domain.item_ids[order]]
    bounds = np.searchsorted(domain.user_ids[order], np.arange(1, domain.num_users + 2))
    histories = [items[start:end][items[start:end] > 0].tolist() for start, end in zip(bounds[:-1], bounds[1:], strict=True)]
    return histories, int((to_model[1:] == 0).sum())


def recommend_all(
    model: Recommender, domain: Domain, k: int = 10, batch_size: int = 256, exclude_history: bool = True,
    on_batch: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """The top ``k`` items of every user of ``domain``, after their whole history there: a frame
    with columns ``user``, ``rank`` (1 first), ``item`` (tokens) and ``score``.

    Users go through the model's one scorer (:func:`score_histories`, :func:`top_items`)
    ``batch_size`` at a time, so each row equals what :meth:`Recommender.recommend` gives that
    user's history; ``on_batch(users_done)`` is called after each batch (for a progress bar).
    """
    import pandas as pd

    if k < 1 or batch_size < 1:
        raise DataError(f"k and batch_size must be at least 1 (got k={k}, batch_size={batch_size})")
    histories, _ = domain_histories(model, domain)
    users: list[np.ndarray] = []
    ranks: list[np.ndarray] = []
    items: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    for start in range(0, len(histories), batch_size):
        chunk = histories[start : start + batch_size]
        batch_scores = score_histories(model.score, chunk, model.max_length, model.device, model.padding_invariant)
        for row, top in enumerate(top_items(batch_scores, chunk, k, exclude_history)):
            users.append(np.full(len(top), start + row + 1, dtype=np.int64))
            ranks.append(np.arange(1, len(top) + 1, dtype=np.int64))
            items.append(np.asarray([i for i, _ in top], dtype=np.int64))
            scores.append(np.asarray([v for _, v in top], dtype=np.float64))
        if on_batch is not None:
            on_batch(len(chunk))

    def joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    return pd.DataFrame({
        "user": domain.users.tokens[joined(users, np.int64)].astype(object),
        "rank": joined(ranks, np.int64),
        "item": model.items.tokens[joined(items, np.int64)].astype(object),
        "score": joined(scores, np.float64),
    })
