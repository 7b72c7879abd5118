"""Pretraining quality and speed on MovieLens, each encoder with its default settings.

Leave-one-out by time, full ranking, history excluded (DESIGN.md's reference protocol);
the epoch is chosen on validation NDCG@10, the test split read once. Each run is a
separate process so its peak memory is its own.

    python bench/pretrain_movielens.py --data ../shared/data/ml-1m --encoders transformer lstm gan
    python bench/pretrain_movielens.py --data ../shared/data/ml-100k --out docs/results/pretrain-ml-100k.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def run_one(data: str, encoder: str, device: str, settings: list[str], home: str | None) -> dict[str, object]:
    import numpy as np
    import torch

    from recgraft.data.loader import load_domain
    from recgraft.data.split import leave_one_out
    from recgraft.engine.batching import padded_histories
    from recgraft.engine.config import TrainConfig
    from recgraft.engine.metrics import RankingMetrics, mask_history, target_ranks
    from recgraft.plugin_manager import catalog
    from recgraft.pretrain import pretrain
    from recgraft.run_config import apply_overrides

    started = time.perf_counter()
    domain = load_domain(data)
    split = leave_one_out(domain)
    load_seconds = time.perf_counter() - started
    sections = apply_overrides({"encoder": {}, "train": {}}, settings,
                               {"encoder": catalog().get("encoder", encoder).Config, "train": TrainConfig})
    trained = pretrain(split, encoder, sections["encoder"], sections["train"], device=device, progress=True)
    history = trained.result.history
    epoch_seconds = np.diff([0.0] + [h["seconds"] for h in history])

    # Most-popular baseline under the same protocol.
    counts = np.bincount(split.train.items, minlength=domain.num_items + 1).astype(np.float32)
    users = split.evaluated_users("test")
    hist = split.history("test")
    full = padded_histories(hist, users, int(hist.lengths()[users].max()))
    targets = torch.from_numpy(split.test[users])
    scores = torch.from_numpy(counts).expand(len(users), -1).clone()
    popular = RankingMetrics()
    popular.add(target_ranks(mask_history(scores, full, targets), targets))

    eval_start = time.perf_counter()
    trained.encoder.eval()
    from recgraft.engine.evaluation import evaluate

    evaluate(lambda h: trained.encoder.score_items(trained.encoder(h)), split, "test",
             trained.encoder.config.max_length, trained.device, trim_padding=trained.encoder.padding_invariant)
    eval_seconds = time.perf_counter() - eval_start
    checkpoint = None
    if home:
        from recgraft.registry import Registry

        checkpoint = trained.register(Registry.open(home=home)).reference
    return {
        "checkpoint": checkpoint,
        "data": Path(data).name,
        "encoder": encoder,
        "device": str(trained.device),
        "settings": list(settings),
        "parameters": trained.encoder.num_parameters(),
        "test": {k: round(float(v), 4) for k, v in trained.test.items()},
        "valid": {k: round(float(v), 4) for k, v in trained.result.valid.items()},
        "most_popular_test": {k: round(float(v), 4) for k, v in popular.result().items()},
        "epochs": trained.result.epochs,
        "best_epoch": trained.result.best_epoch,
        "seconds_per_epoch": round(float(np.median(epoch_seconds)), 2),
        "seconds_to_best": round(trained.result.seconds_to_best, 1),
        "seconds_total": round(trained.result.seconds, 1),
        "load_and_split_seconds": round(load_seconds, 2),
        "full_ranking_eval_seconds": round(eval_seconds, 2),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/ml-1m")
    parser.add_argument("--encoders", nargs="+", default=["transformer", "lstm", "gan"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", dest="settings", action="append", default=[], help="key=value, as recgraft pretrain --set")
    parser.add_argument("--out", type=Path, default=None, help="append results as JSON lines")
    parser.add_argument("--home", default=None, help="register each checkpoint in the registry of this recgraft home")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.data, args.encoders[0], args.device, args.settings, args.home)))
        return
    for encoder in args.encoders:
        command = [sys.executable, __file__, "--one", "--data", args.data, "--encoders", encoder, "--device", args.device]
        for setting in args.settings:
            command += ["--set", setting]
        if args.home:
            command += ["--home", args.home]
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(result), flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with args.out.open("a") as handle:
                handle.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
