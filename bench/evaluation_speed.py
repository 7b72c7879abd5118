"""Wall time of one full-ranking evaluation of every test user, for a registered checkpoint.

    python bench/evaluation_speed.py ml-1m-transformer --data ../shared/data/ml-1m --repeats 5

Loads the checkpoint and the split once, then times ``Recommender.evaluate`` (the path
``recgraft evaluate`` takes) ``--repeats`` times; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reference", help="registered checkpoint (NAME, NAME@N)")
    parser.add_argument("--data", required=True)
    parser.add_argument("--registry", default=None, metavar="URL")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from recgraft.data.loader import load_domain
    from recgraft.data.split import leave_one_out
    from recgraft.recommender import load_registered
    from recgraft.registry import Registry

    registry = Registry.open(url=args.registry)
    record = registry.resolve(args.reference)
    recommender = load_registered(registry, record)
    split = leave_one_out(load_domain(args.data))
    seconds, metrics = [], {}
    for _ in range(args.repeats):
        started = time.perf_counter()
        metrics = recommender.evaluate(split, "test")
        seconds.append(time.perf_counter() - started)
    print(json.dumps({
        "checkpoint": record.reference, "users": len(split.evaluated_users("test")),
        "threads": torch.get_num_threads(), "seconds": [round(s, 2) for s in seconds],
        "median_seconds": round(statistics.median(seconds), 2),
        "ndcg@10": round(float(metrics["ndcg@10"]), 4),
    }))


if __name__ == "__main__":
    main()
