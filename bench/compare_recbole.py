"""recgraft's transformer beside RecBole 1.2.1's SASRec on one split, same wall-clock budget.

Both train on ML-100K split leave-one-out by time (RecBole's sequential protocol,
``eval_args: {split: {LS: valid_and_test}, order: TO, mode: full}``), histories cut to the
last 50 items, 64-dim, 2 layers, 1 head, dropout 0.2, full-softmax cross-entropy, Adam at
the same learning rate, batch 128, epoch picked on validation NDCG@10 with patience 10, test
read once. Each toolkit runs in its own process (its peak memory is its own) with the
thread count of this environment's OMP_NUM_THREADS, under the same ``--minutes`` of training.
RecBole has no wall-clock cap: ``bench/recbole_runner.py`` drives its Trainer epoch by epoch
and cuts the epoch running when the budget is spent (one takes minutes on a CPU thread);
recgraft's ``max_minutes`` lets its last epoch (seconds) finish. RecBole lives in its own
venv, made on first use at ``--recbole-venv``.

recgraft writes the atomic files RecBole reads, with each timestamp replaced by the
interaction's position in recgraft's time order (RecBole keeps timestamps as float32, which
merges nearby seconds and would break ties differently); the script checks that both
toolkits hold out the same validation and test item for every user.

    OMP_NUM_THREADS=1 python bench/compare_recbole.py --minutes 10 --out docs/results/compare-recbole.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RECBOLE_PACKAGES = (
    "torch==2.13.0", "recbole==1.2.1", "numpy<2", "pandas<2.2", "scipy<1.14", "scikit-learn<1.6",
    "setuptools<81",  # ray (imported by recbole.quick_start) needs pkg_resources
)
PROTOCOL_NOTES = (
    "recgraft's own test metrics exclude the user's earlier items from the ranking and count "
    "ties against the target; RecBole's sequential full ranking keeps them (only the pad is "
    "excluded) and takes the top 10 with torch.topk, which breaks ties in no fixed way. The "
    "history_excluded / history_kept columns rank both models both ways (ties pessimistic).",
    "RecBole trains on one sample per (user, position) whose input is the 50 items before it "
    "(sequential data augmentation); recgraft on 50-item windows with a target at every "
    "position, so its epoch has ~40x fewer rows (2,412 vs 97,171 on ML-100K) but as many targets, with less "
    "context for the early positions of a window.",
    "recgraft's transformer is pre-norm with a 64-wide feed-forward layer; RecBole's SASRec is "
    "post-norm with inner_size (default 256). Parameter counts are in the results.",
    "recgraft finishes the epoch that passes the budget (its epochs take seconds); RecBole's "
    "runner cuts its epoch at the budget, validates, and counts the fraction done.",
)


def recbole_config(dataset: str, data_path: Path, workdir: Path, *, max_length: int, seed: int,
                   learning_rate: float, batch_size: int, inner_size: int) -> dict[str, Any]:
    """RecBole's config dict for SASRec matched to recgraft's transformer defaults."""
    return {
        "dataset": dataset,
        "data_path": str(data_path),
        "checkpoint_dir": str(workdir / "saved"),
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "MAX_ITEM_LIST_LENGTH": max_length,
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": "full"},
        "repeatable": True,
        "metrics": ["Hit", "NDCG"],
        "topk": [10],
        "valid_metric": "NDCG@10",
        "loss_type": "CE",
        "train_neg_sample_args": None,
        "hidden_size": 64,
        "inner_size": inner_size,
        "n_layers": 2,
        "n_heads": 1,
        "hidden_dropout_prob": 0.2,
        "attn_dropout_prob": 0.2,
        "learning_rate": learning_rate,
        "train_batch_size": batch_size,
        "eval_batch_size": 512,
        "epochs": 100_000,  # the runner stops on the budget or on patience
        "seed": seed,
        "reproducibility": True,
        "use_gpu": False,
        "show_progress": False,
        "log_wandb": False,
        "worker": 0,
    }


def format_table(results: list[dict[str, Any]]) -> str:
    """The results as a markdown table, one row per toolkit."""
    header = ("| toolkit | test NDCG@10 | test HR@10 | NDCG@10 / HR@10, history excluded "
              "| NDCG@10 / HR@10, history kept | epochs (best) | s/epoch | s to best | peak RSS MB "
              "| params | train rows (targets) per epoch |")
    lines = [header, "|" + " --- |" * 11]
    for r in results:
        excluded, kept = r["test_history_excluded"], r["test_history_kept"]
        per_epoch = "n/a" if r["seconds_per_epoch"] is None else f"{r['seconds_per_epoch']:.1f}"
        lines.append(
            f"| {r['toolkit']} | {r['test']['ndcg@10']:.4f} | {r['test']['hr@10']:.4f} "
            f"| {excluded['ndcg@10']:.4f} / {excluded['hr@10']:.4f} | {kept['ndcg@10']:.4f} / {kept['hr@10']:.4f} "
            f"| {r['epochs']:g} ({r['best_epoch']}) | {per_epoch} | {r['seconds_to_best']:.0f} "
            f"| {r['peak_rss_mb']} | {r['parameters']:,} "
            f"| {r['train_samples_per_epoch']:,} ({r['train_targets_per_epoch']:,}) |"
        )
    return "\n".join(lines)


def ensure_recbole(venv: Path) -> Path:
    """The python of a venv holding RecBole 1.2.1, made and filled on first use."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import recbole.trainer, recbole.model.sequential_recommender"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"creating RecBole's venv at {venv}", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *RECBOLE_PACKAGES], check=True)
    subprocess.run(check, check=True)
    return python


def export_for_recbole(data: str, folder: Path) -> str:
    """Write the domain's interactions as RecBole atomic files under ``folder``; return the dataset name.

    Timestamps become positions in recgraft's time order (user, timestamp, file order), so
    RecBole's stable float32 sort reproduces that order exactly.
    """
    import numpy as np

    from recgraft.data.export import write_atomic_files
    from recgraft.data.loader import load_domain
    from recgraft.data.split import time_order

    domain = load_domain(data)
    position = np.empty(domain.num_interactions, dtype=np.float64)
    position[time_order(domain)] = np.arange(domain.num_interactions)
    name = f"{domain.name}-loo"
    ordered = dataclasses.replace(domain, name=name, timestamps=position, item_features={}, user_features={})
    write_atomic_files(ordered, folder / name)
    return name


def split_targets(data: str) -> dict[str, list[str]]:
    """recgraft's {user token: [validation item token, test item token]} for evaluated users."""
    from recgraft.data.loader import load_domain
    from recgraft.data.split import leave_one_out

    split = leave_one_out(load_domain(data))
    domain = split.domain
    return {domain.users.token(int(u)): [domain.items.token(int(split.valid[u])), domain.items.token(int(split.test[u]))]
            for u in split.evaluated_users("test")}


def compare_splits(ours: dict[str, list[str]], theirs: dict[str, list[str]]) -> dict[str, int]:
    """How many users the two splits hold out the same validation and test items for."""
    users = set(ours) | set(theirs)
    return {
        "users": len(users),
        "same_test": sum(ours.get(u, [None, None])[1] == theirs.get(u, ["", ""])[1] for u in users),
        "same_valid": sum(ours.get(u, [None, None])[0] == theirs.get(u, ["", ""])[0] for u in users),
    }


def run_recgraft(request: dict[str, Any]) -> dict[str, Any]:
    """Train and evaluate recgraft's transformer (in this process; the caller makes it a child)."""
    import numpy as np
    import torch

    import recgraft
    from recgraft.data.loader import load_domain
    from recgraft.data.split import leave_one_out
    from recgraft.engine.batching import next_item_examples, padded_histories
    from recgraft.engine.metrics import mask_history, target_ranks
    from recgraft.pretrain import pretrain

    started = time.perf_counter()
    split = leave_one_out(load_domain(request["data"]))
    setup_seconds = time.perf_counter() - started
    max_length = request["max_length"]
    train = {"max_minutes": request["minutes"], "seed": request["seed"], "learning_rate": request["learning_rate"],
             "batch_size": request["batch_size"], "patience": request["patience"]}
    trained = pretrain(split, "transformer", {"max_length": max_length}, train, device="cpu")
    examples = next_item_examples(split.train, split.train_users, max_length, True)
    model = trained.encoder.eval()
    users = split.evaluated_users("test")
    history = split.history("test")
    targets = torch.from_numpy(split.test[users])
    ranks = {"history_kept": [], "history_excluded": []}
    with torch.no_grad():
        for start in range(0, len(users), 512):
            chunk, goal = users[start:start + 512], targets[start:start + 512]
            scores = model.score_items(model(padded_histories(history, chunk, max_length))).float()
            scores[:, 0] = float("-inf")
            ranks["history_kept"].append(target_ranks(scores, goal))
            full = padded_histories(history, chunk, int(history.lengths()[chunk].max()))
            ranks["history_excluded"].append(target_ranks(mask_history(scores, full, goal), goal))

    def metrics(values: list[torch.Tensor]) -> dict[str, float]:
        r = torch.cat(values).double().numpy()
        hit = r < 10
        return {"ndcg@10": round(float(np.where(hit, 1 / np.log2(r + 2), 0).mean()), 4),
                "hr@10": round(float(hit.mean()), 4)}

    result = trained.result
    epoch_seconds = np.diff([0.0] + [h["seconds"] for h in result.history])
    return {
        "toolkit": f"recgraft {recgraft.__version__} transformer",
        "test": {"ndcg@10": round(float(trained.test["ndcg@10"]), 4), "hr@10": round(float(trained.test["hr@10"]), 4)},
        "test_history_excluded": metrics(ranks["history_excluded"]),
        "test_history_kept": metrics(ranks["history_kept"]),
        "test_users": len(users),
        "valid_ndcg@10": round(float(result.valid["ndcg@10"]), 4),
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "seconds_per_epoch": round(float(np.median(epoch_seconds)), 2),
        "seconds_to_best": round(result.seconds_to_best, 1),
        "seconds_total": round(result.seconds, 1),
        "setup_seconds": round(setup_seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "parameters": model.num_parameters(),
        "users": split.domain.num_users,
        "items": split.domain.num_items,
        "train_samples_per_epoch": len(examples),
        "train_targets_per_epoch": int((examples.targets > 0).sum()),
        "batches_per_epoch": -(-len(examples) // request["batch_size"]),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "history": [{k: round(float(v), 4) for k, v in h.items()} for h in result.history],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/ml-100k")
    parser.add_argument("--minutes", type=float, default=10.0, help="wall-clock training budget of each toolkit")
    parser.add_argument("--recbole-venv", type=Path, default=Path("/tmp/recbole-venv"))
    parser.add_argument("--out", type=Path, default=None, help="append one JSON line per toolkit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--learning-rate", type=float, default=2e-3, help="both toolkits (recgraft's default)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-length", type=int, default=50)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--inner-size", type=int, default=256, help="SASRec's feed-forward width (RecBole's default)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the exported data and logs here")
    parser.add_argument("--recgraft-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.recgraft_child:
        request = json.loads(args.recgraft_child.read_text())
        Path(request["result"]).write_text(json.dumps(run_recgraft(request)))
        return

    python = ensure_recbole(args.recbole_venv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="compare-recbole-"))
    workdir.mkdir(parents=True, exist_ok=True)
    dataset = export_for_recbole(args.data, workdir / "data")
    common = {"minutes": args.minutes, "patience": args.patience}

    recbole_request = {
        **common,
        "config": recbole_config(dataset, workdir / "data", workdir, max_length=args.max_length, seed=args.seed,
                                 learning_rate=args.learning_rate, batch_size=args.batch_size,
                                 inner_size=args.inner_size),
        "result": str(workdir / "recbole.json"),
        "targets": str(workdir / "recbole-targets.json"),
    }
    (workdir / "recbole-request.json").write_text(json.dumps(recbole_request))
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    subprocess.run([str(python), str(HERE / "recbole_runner.py"), str(workdir / "recbole-request.json")],
                   cwd=workdir, env=env, check=True)
    recbole = json.loads((workdir / "recbole.json").read_text())

    recgraft_request = {
        **common, "data": args.data, "max_length": args.max_length, "seed": args.seed,
        "learning_rate": args.learning_rate, "batch_size": args.batch_size, "result": str(workdir / "recgraft.json"),
    }
    (workdir / "recgraft-request.json").write_text(json.dumps(recgraft_request))
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--recgraft-child",
                    str(workdir / "recgraft-request.json")], check=True)
    ours = json.loads((workdir / "recgraft.json").read_text())

    agreement = compare_splits(split_targets(args.data), json.loads((workdir / "recbole-targets.json").read_text()))
    shared = {
        "data": Path(args.data).name,
        "minutes": args.minutes,
        "split_agreement": agreement,
        "settings": {"max_length": args.max_length, "embedding_dim": 64, "layers": 2, "heads": 1, "dropout": 0.2,
                     "learning_rate": args.learning_rate, "batch_size": args.batch_size, "patience": args.patience,
                     "seed": args.seed, "loss": "full-softmax CE", "recbole_inner_size": args.inner_size},
        "protocol_notes": list(PROTOCOL_NOTES),
    }
    results = [{**ours, **shared}, {**recbole, **shared}]
    for result in results:
        print(json.dumps(result), flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with args.out.open("a") as handle:
                handle.write(json.dumps(result) + "\n")
    same = agreement["same_test"] == agreement["same_valid"] == agreement["users"]
    print(f"\nML-100K, {args.minutes:g} min each, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')} "
          f"(torch threads: recgraft {ours['torch_threads']}, RecBole {recbole['torch_threads']}); split: "
          + ("identical" if same else f"DIFFERENT ({agreement})") + f"; learning rate {args.learning_rate:g} for both\n")
    print(format_table(results))
    print()
    for note in PROTOCOL_NOTES:
        print(f"- {note}")
    if not args.workdir:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
