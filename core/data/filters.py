"""Interaction filters: keep positive ratings, k-core."""

from __future__ import annotations

import numpy as np

from recgraft.data.domain import Domain
from recgraft.errors import DataError


def keep_positive(domain: Domain, min_rating: float) -> Domain:
    """The interactions rated at least ``min_rating`` (ids re-indexed); DataError without ratings."""
    if domain.ratings is None:
        raise DataError(f"domain {domain.name!r} has no ratings to filter on")
    return domain.subset(domain.ratings >= min_rating)


def k_core_mask(domain: Domain, user_k: int, item_k: int) -> np.ndarray:
    """The interactions of the (user_k, item_k)-core: repeat dropping rare users and items until stable."""
    keep = np.ones(domain.num_interactions, dtype=bool)
    while True:
        users, items = domain.user_ids[keep], domain.item_ids[keep]
        user_count = np.bincount(users, minlength=len(domain.users))
        item_count = np.bincount(items, minlength=len(domain.items))
        ok = (user_count[users] >= user_k) & (item_count[items] >= item_k)
        if ok.all():
            return keep
        rows = np.flatnonzero(keep)
        keep[rows[~ok]] = False


def k_core(domain: Domain, user_k: int, item_k: int) -> Domain:
    """Users with at least ``user_k`` and items with at least ``item_k`` interactions, iterated until stable."""
    return domain.subset(k_core_mask(domain, user_k, item_k))
