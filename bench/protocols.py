"""Baselines and built-in encoders under the per-user random 80/10/10 split and the global
temporal split: Recall@10 and NDCG@10, full ranking, test read once per run.

Each model trains with ``recgraft.pretrain`` on the split (encoders choose their epoch on
validation NDCG@10, the closed-form baselines their lambda or k), under a per-run time cap
(``--minutes``), with the default settings of each encoder except the batch size.
Rows go to ``results.jsonl`` in ``--out`` (rows already there are skipped), the table to
``table.md``.

    python bench/protocols.py --data ../shared/data/ml-100k ../shared/data/ml-1m --out docs/results/protocols

``--min-rating`` and ``--k-core`` filter the data first, as RecBole's published ML-1M tuning
runs do (ratings of 3 and up, then the 10-core), to check a baseline against their figures:

    python bench/protocols.py --data ../shared/data/ml-1m --min-rating 3 --k-core 10 \
        --splits ratio:0.8,0.1,0.1 --models popular itemknn ease --out docs/results/protocols-recbole
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

SPLITS = ["ratio:0.8,0.1,0.1", "temporal:0.8,0.1"]
MODELS = ["popular", "itemknn", "ease", "bpr", "transformer", "lstm", "gan"]
KEEP = ("recall@10", "ndcg@10", "hr@10", "precision@10")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(domain: Any, split: str, model: str, args: argparse.Namespace) -> dict[str, Any]:
    from recgraft.pretrain import pretrain

    train: dict[str, Any] = {"seed": 0, "max_minutes": args.minutes, "epochs": args.epochs, "patience": args.patience,
                             "batch_size": args.batch_size}
    if model in ("popular", "itemknn", "ease"):
        train = {"seed": 0}
    started = time.perf_counter()
    trained = pretrain(domain, model, {}, train, device=args.device, split=split)
    return {"domain": domain.name, "split": trained.split.spec, "model": model,
            "valid": {k: round(float(trained.result.valid[k]), 5) for k in KEEP},
            "test": {k: round(float(trained.test[k]), 5) for k in KEEP},
            "best_epoch": trained.result.best_epoch, "epochs": trained.result.epochs,
            "seconds": round(time.perf_counter() - started, 1), "users": int(trained.test["users"])}


def filtered(domain: Any, args: argparse.Namespace) -> Any:
    """``domain`` after ``--min-rating`` and ``--k-core``, named for the filters."""
    from dataclasses import replace

    from recgraft.data.filters import k_core, keep_positive

    name = domain.name
    if args.min_rating is not None:
        domain, name = keep_positive(domain, args.min_rating), f"{name}, rating>={args.min_rating:g}"
    if args.k_core is not None:
        domain, name = k_core(domain, args.k_core, args.k_core), f"{name}, {args.k_core}-core"
    if name != domain.name:
        domain = replace(domain, name=name)
        log(f"{name}: {domain.num_users:,} users, {domain.num_items:,} items, {domain.num_interactions:,} interactions")
    return domain


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| data | split | model | test Recall@10 | test NDCG@10 | valid NDCG@10 | epochs (best) | seconds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    order = {m: i for i, m in enumerate(MODELS)}
    for r in sorted(rows, key=lambda r: (r["domain"], r["split"], order.get(r["model"], 99))):
        lines.append(f"| {r['domain']} | {r['split']} | {r['model']} | {r['test']['recall@10']:.4f} | "
                     f"{r['test']['ndcg@10']:.4f} | {r['valid']['ndcg@10']:.4f} | {r['epochs']} ({r['best_epoch']}) | "
                     f"{r['seconds']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=["../shared/data/ml-100k", "../shared/data/ml-1m"])
    parser.add_argument("--splits", nargs="+", default=SPLITS)
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--minutes", type=float, default=5.0, help="wall-time cap per trained model")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--min-rating", type=float, default=None, help="keep interactions rated at least this")
    parser.add_argument("--k-core", type=int, default=None, help="then keep the k-core of users and items")
    parser.add_argument("--out", type=Path, default=Path("bench-results/protocols"))
    args = parser.parse_args()

    from recgraft.data.loader import load_domain

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    done = {(r["domain"], r["split"], r["model"]) for r in rows}
    with path.open("a") as out:
        for data in args.data:
            domain = filtered(load_domain(data), args)
            for split in args.splits:
                for model in args.models:
                    if (domain.name, split, model) in done:
                        continue
                    row = run(domain, split, model, args)
                    log(f"{domain.name} {split} {model}: test Recall@10 {row['test']['recall@10']:.4f} "
                        f"NDCG@10 {row['test']['ndcg@10']:.4f} ({row['seconds']:.0f}s)")
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    rows.append(row)
    (args.out / "table.md").write_text(table(rows) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
