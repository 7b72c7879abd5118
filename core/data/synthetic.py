"""Synthetic related domains: shared latent tastes, overlapping items, sequential structure.

The default data of ``recgraft demo`` and of the tests. Items live in a latent space
around genre clusters; overlapping items keep their latent vector, token and ``title``
across domains, so alignment by token or by ``title`` both work. Users of every domain
draw tastes from one distribution. Each user's next item is sampled (without repeats)
from a softmax over taste affinity, closeness to the previous item, and item popularity,
so next-item models beat popularity. The first domain is rich (source), the last sparse
(target). Deterministic by seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recgraft.data.domain import Domain, domain_from_tokens
from recgraft.errors import ConfigError

START = 1_577_836_800.0  # 2020-01-01T00:00:00Z
DAY = 86_400.0


def _per_domain(value: int | float | Sequence[int | float], n: int, what: str) -> list[float]:
    """One value per domain: a scalar for all, n values, or 2 (first and last, geometric in between)."""
    if isinstance(value, int | float):
        return [float(value)] * n
    values = [float(v) for v in value]
    if len(values) == n:
        return values
    if len(values) == 2:
        if n == 1:
            return values[:1]
        return list(np.geomspace(values[0], values[1], n))
    raise ConfigError(f"{what}: expected one value, 2 or {n} values, got {len(values)}")


def _domain_names(n: int) -> list[str]:
    if n == 1:
        return ["source"]
    return ["source", *[f"aux{i}" for i in range(1, n - 1)], "target"]


def synthetic_domains(
    num_domains: int = 2,
    num_users: int | Sequence[int] = (800, 200),
    num_items: int | Sequence[int] = (300, 240),
    overlap: float = 0.6,
    interactions_per_user: float | Sequence[float] = (40, 12),
    seed: int = 0,
    *,
    dim: int = 8,
    genres: int = 12,
    taste_weight: float = 1.0,
    sequence_weight: float = 1.5,
    popularity_weight: float = 0.7,
) -> list[Domain]:
    """Related domains (first rich, last sparse) with shared items and sequential structure.

    Args:
        num_domains: how many domains.
        num_users: users per domain (one value, one per domain, or first and last).
        num_items: items per domain (same forms).
        overlap: share of each later domain's items that also appear in the first domain.
        interactions_per_user: mean history length per domain (same forms); each user has >= 3.
        seed: the random seed; equal seeds give equal domains.
        dim: latent dimension.
        genres: latent clusters; an item's cluster is its ``genre`` feature.
        taste_weight, sequence_weight, popularity_weight: the next-item softmax's terms.
    """
    if num_domains < 1:
        raise ConfigError(f"num_domains must be >= 1, got {num_domains}")
    if not 0.0 <= overlap <= 1.0:
        raise ConfigError(f"overlap must be in [0, 1], got {overlap}")
    users_n = [int(round(v)) for v in _per_domain(num_users, num_domains, "num_users")]
    items_n = [int(round(v)) for v in _per_domain(num_items, num_domains, "num_items")]
    lengths_mean = _per_domain(interactions_per_user, num_domains, "interactions_per_user")
    if min(items_n) < 4 or min(users_n) < 1:
        raise ConfigError("each domain needs at least 1 user and 4 items")
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 1.5, size=(genres, dim))

    def new_items(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cluster = rng.integers(0, genres, size=n)
        latent = centers[cluster] + rng.normal(0.0, 0.6, size=(n, dim))
        bias = rng.normal(0.0, 1.0, size=n)
        return cluster, latent, bias

    # The global item pool grows as later domains add their own items.
    pool_cluster, pool_latent, pool_bias = new_items(items_n[0])
    domains: list[Domain] = []
    scale = 1.0 / np.sqrt(dim)
    for k, name in enumerate(_domain_names(num_domains)):
        if k == 0:
            global_ids = np.arange(items_n[0])
        else:
            shared_n = min(int(round(overlap * items_n[k])), items_n[0])
            shared = rng.choice(items_n[0], size=shared_n, replace=False)
            c, lat, b = new_items(items_n[k] - shared_n)
            fresh = np.arange(len(pool_cluster), len(pool_cluster) + len(c))
            pool_cluster = np.concatenate([pool_cluster, c])
            pool_latent = np.concatenate([pool_latent, lat])
            pool_bias = np.concatenate([pool_bias, b])
            global_ids = np.concatenate([shared, fresh])
        latent, bias = pool_latent[global_ids], pool_bias[global_ids]  # (I, d), (I,)
        n_users, n_items = users_n[k], len(global_ids)
        taste = centers[rng.integers(0, genres, size=n_users)] + rng.normal(
            0.0, 0.8, size=(n_users, dim)
        )
        lengths = np.clip(
            np.round(lengths_mean[k] * np.exp(rng.normal(0.0, 0.4, size=n_users))),
            3,
            min(n_items - 1, max(3, int(2 * lengths_mean[k]))),
        ).astype(np.int64)
        steps = int(lengths.max())
        logits = taste_weight * scale * (taste @ latent.T) + popularity_weight * bias  # (U, I)
        near = sequence_weight * scale * (latent @ latent.T)  # (I, I)
        # softmax weights, each factor scaled to max 1 (exp(a + b) = exp(a) * exp(b))
        base = np.exp(logits - logits.max(axis=1, keepdims=True)).astype(np.float32)
        follow = np.exp(near - near.max(axis=1, keepdims=True)).astype(np.float32)
        seen = np.zeros((n_users, n_items), dtype=bool)
        chosen = np.zeros((n_users, steps), dtype=np.int64)
        rows = np.arange(n_users)
        for t in range(steps):
            weights = base * follow[chosen[:, t - 1]] if t else base.copy()
            weights += np.float32(1e-30)  # every unseen item stays possible
            weights[seen] = 0.0
            # inverse CDF: the first item whose cumulative weight reaches u ~ U(0, total]
            cumulative = np.cumsum(weights, axis=1)
            u = (1.0 - rng.random((n_users, 1), dtype=np.float32)) * cumulative[:, -1:]
            pick = np.minimum((cumulative < u).sum(axis=1), n_items - 1)
            chosen[:, t] = pick
            seen[rows, pick] = True
        valid = np.arange(steps)[None, :] < lengths[:, None]  # (U, T)
        user_of = np.repeat(rows, lengths)
        item_local = chosen[valid]
        gaps = rng.exponential(DAY, size=(n_users, steps))
        times = START + rng.uniform(0.0, 180 * DAY, size=(n_users, 1)) + np.cumsum(gaps, axis=1)
        affinity = scale * np.einsum("nd,nd->n", taste[user_of], latent[item_local])
        ratings = np.clip(
            np.round(3.0 + 0.8 * affinity + rng.normal(0.0, 0.7, size=len(user_of))), 1, 5
        )
        item_tokens = np.array([f"item{g:05d}" for g in global_ids], dtype=object)
        user_tokens = np.array([f"{name}_user{u:05d}" for u in range(n_users)], dtype=object)
        titles = np.array([f"Title {g:05d}" for g in global_ids], dtype=object)
        genre = np.array([f"genre{c:02d}" for c in pool_cluster[global_ids]], dtype=object)
        segment = np.array([f"segment{i % 4}" for i in range(n_users)], dtype=object)
        domains.append(
            domain_from_tokens(
                name,
                user_tokens[user_of],
                item_tokens[item_local],
                np.round(times[valid]),
                ratings.astype(np.float32),
                item_table=(item_tokens, {"title": titles, "genre": genre}),
                user_table=(user_tokens, {"segment": segment}),
                source=f"synthetic(seed={seed})",
            )
        )
    return domains
