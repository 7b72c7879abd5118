"""Summary statistics of a domain (what ``recgraft data stats`` prints)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

from recgraft.data.domain import Domain

QUANTILES = {"min": 0.0, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p90": 0.9, "max": 1.0}
# Timestamps in this range (1990-01-01 .. 2100-01-01) are read as unix seconds.
UNIX_RANGE = (631_152_000.0, 4_102_444_800.0)


def _time(value: float, unix: bool) -> str | float:
    if unix:
        return datetime.fromtimestamp(value, tz=timezone.utc).date().isoformat()  # noqa: UP017 (py3.10)
    return float(value)


def domain_stats(domain: Domain) -> dict[str, Any]:
    """Users, items, interactions, density, history lengths, time span, features, ratings (JSON-ready)."""
    n = domain.num_interactions
    users, items = domain.num_users, domain.num_items
    lengths = np.bincount(domain.user_ids, minlength=len(domain.users))[1:]
    history: dict[str, float] = {}
    if len(lengths):
        for key, q in QUANTILES.items():
            history[key] = float(np.quantile(lengths, q))
        history["mean"] = float(lengths.mean())
    time: dict[str, Any] | None = None
    if n:
        first, last = float(domain.timestamps.min()), float(domain.timestamps.max())
        unix = UNIX_RANGE[0] <= first and last <= UNIX_RANGE[1]
        time = {
            "first": _time(first, unix),
            "last": _time(last, unix),
            "span_days": round((last - first) / 86400.0, 1) if unix else None,
            "unix_seconds": unix,
        }
    ratings: dict[str, float] | None = None
    if domain.ratings is not None and n:
        ratings = {
            "min": float(domain.ratings.min()),
            "max": float(domain.ratings.max()),
            "mean": round(float(domain.ratings.mean(dtype=np.float64)), 4),
        }
    return {
        "name": domain.name,
        "source": domain.source,
        "users": users,
        "items": items,
        "interactions": n,
        "density": n / (users * items) if users and items else 0.0,
        "history_length": history,
        "time": time,
        "ratings": ratings,
        "item_features": sorted(domain.item_features),
        "user_features": sorted(domain.user_features),
        "fingerprint": domain.fingerprint(),
    }
