"""Most-popular baseline under the reference protocol (leave-one-out by time, full ranking).

Score = the item's train interaction count; each user's history (train, plus the validation
item for test) is excluded. Expected (DESIGN.md): NDCG@10 0.018 / HR@10 0.037 on ML-1M and
0.043 / 0.082 on ML-100K.

    python bench/most_popular.py /work/shared/data/ml-1m /work/shared/data/ml-100k
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from recgraft.data import leave_one_out, load_domain
from recgraft.engine.metrics import RankingMetrics, mask_history, target_ranks


def evaluate(path: str, batch: int = 1024) -> dict[str, dict[str, float]]:
    t0 = time.perf_counter()
    domain = load_domain(path)
    t1 = time.perf_counter()
    split = leave_one_out(domain)
    t2 = time.perf_counter()
    popularity = torch.from_numpy(
        np.bincount(split.train.items, minlength=len(domain.items)).astype(np.float32)
    )
    out: dict[str, dict[str, float]] = {}
    for stage in ("valid", "test"):
        history = split.history(stage)
        users = split.evaluated_users(stage)
        targets = split.targets(stage)
        metrics = RankingMetrics()
        for start in range(0, len(users), batch):
            chunk = users[start : start + batch]
            hist = torch.from_numpy(history.padded(chunk))
            tgt = torch.from_numpy(targets[chunk])
            scores = popularity.expand(len(chunk), -1).clone()
            scores = mask_history(scores, hist, tgt, inplace=True)
            metrics.add(target_ranks(scores, tgt))
        out[stage] = metrics.result()
    print(
        f"{domain.name}: {domain.num_users} users, {domain.num_items} items, {domain.num_interactions} "
        f"interactions; load {t1 - t0:.2f}s, leave_one_out {t2 - t1:.3f}s",
        file=sys.stderr,
    )
    return out


def main() -> None:
    paths = sys.argv[1:] or ["/work/shared/data/ml-1m", "/work/shared/data/ml-100k"]
    for path in paths:
        result = evaluate(path)
        for stage, metrics in result.items():
            print(
                f"{path} {stage}: NDCG@10 {metrics['ndcg@10']:.4f}  HR@10 {metrics['hr@10']:.4f}  "
                f"MRR@10 {metrics['mrr@10']:.4f}  NDCG@20 {metrics['ndcg@20']:.4f}  HR@20 {metrics['hr@20']:.4f}  "
                f"users {metrics['users']}"
            )


if __name__ == "__main__":
    main()
