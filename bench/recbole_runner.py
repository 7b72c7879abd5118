"""RecBole's SASRec under a wall-clock budget; runs inside RecBole's own venv.

Started by ``bench/compare_recbole.py`` with one argument, a JSON request: ``config`` (RecBole's
config dict), ``minutes``, ``patience``, ``result`` (where to write the result JSON) and
``targets`` (where to write each user's validation and test item tokens, for the split check).
Trains epoch by epoch through RecBole's own ``Trainer._train_epoch`` / ``_valid_epoch``,
keeps the best state by validation NDCG@10 in memory and reads the test split once at the end.
It stops after ``patience`` epochs without a better validation score, or when the budget is
spent: a RecBole epoch on ML-100K takes minutes on one CPU thread, so the epoch running
then is cut short (validated, and counted as the fraction it did), where recgraft's
``max_minutes`` lets its last (seconds-long) epoch finish.
"""

from __future__ import annotations

import copy
import json
import os
import resource
import sys
import time

import numpy as np
import torch


class Budgeted:
    """``data``'s batches until ``deadline`` (a ``time.perf_counter()`` value); counts those handed out."""

    def __init__(self, data, deadline: float) -> None:
        self.data, self.deadline, self.taken = data, deadline, 0
        self.shuffle = data.shuffle

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self):
        for batch in self.data:
            if time.perf_counter() > self.deadline:
                return
            self.taken += 1
            yield batch


def history_mask(datasets: list, uid_field: str, list_field: str, users: int, items: int) -> torch.Tensor:
    """(users, items) bool: the items each user had before its test item.

    Every item but the last of a user's sequence is in the item list of some training sample
    (sequential data augmentation), so the union of the item lists over the three splits is
    the test-time history.
    """
    mask = torch.zeros(users, items, dtype=torch.bool)
    for dataset in datasets:
        uid = dataset.inter_feat[uid_field]
        lists = dataset.inter_feat[list_field]  # (N, L), 0-padded
        rows = uid.view(-1, 1).expand_as(lists)
        mask[rows[lists > 0], lists[lists > 0]] = True
    return mask


@torch.no_grad()
def test_ranks(model, test_data, mask: torch.Tensor, uid_field: str, iid_field: str) -> dict[str, np.ndarray]:
    """0-based test ranks, ties pessimistic, with the user's history kept and excluded."""
    model.eval()
    kept, excluded = [], []
    for batch in test_data:
        interaction = batch[0]
        scores = model.full_sort_predict(interaction).float()  # (B, I)
        targets = interaction[iid_field].long().view(-1, 1)
        scores[:, 0] = float("-inf")
        target = scores.gather(1, targets)
        kept.append(((scores >= target).sum(1) - 1).numpy())
        history = mask[interaction[uid_field].long()]
        history.scatter_(1, targets, False)
        scores[history] = float("-inf")
        excluded.append(((scores >= target).sum(1) - 1).numpy())
    return {"history_kept": np.concatenate(kept), "history_excluded": np.concatenate(excluded)}


def ranking_metrics(ranks: np.ndarray, k: int = 10) -> dict[str, float]:
    hit = ranks < k
    return {f"ndcg@{k}": round(float(np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0).mean()), 4),
            f"hr@{k}": round(float(hit.mean()), 4)}


def split_targets(valid_data, test_data, dataset, uid_field: str, iid_field: str) -> dict[str, list[str]]:
    """{user token: [validation item token, test item token]}."""
    out: dict[str, list[str]] = {}
    for slot, data in enumerate((valid_data, test_data)):
        feat = data._dataset.inter_feat
        users = dataset.id2token(uid_field, feat[uid_field].numpy())
        items = dataset.id2token(iid_field, feat[iid_field].numpy())
        for user, item in zip(users, items, strict=True):
            out.setdefault(str(user), ["", ""])[slot] = str(item)
    return out


def main() -> None:
    with open(sys.argv[1]) as handle:
        request = json.load(handle)
    del sys.argv[1:]  # RecBole's Config reads --key=value from the command line
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import SASRec
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    settings = request["config"]
    config = Config(model="SASRec", dataset=settings["dataset"], config_dict=settings)
    init_seed(config["seed"], config["reproducibility"])
    started = time.perf_counter()
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    setup_seconds = time.perf_counter() - started
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = SASRec(config, train_data._dataset).to(config["device"])
    trainer = Trainer(config, model)
    trainer.eval_collector.data_collect(train_data)

    start = time.perf_counter()
    deadline = start + request["minutes"] * 60
    best_score, best_epoch, best_state, best_valid = -np.inf, 0, copy.deepcopy(model.state_dict()), {}
    seconds_to_best, history, done = 0.0, [], 0.0
    epoch = 0
    for epoch in range(1, config["epochs"] + 1):
        batches = Budgeted(train_data, deadline)
        loss = trainer._train_epoch(batches, epoch - 1)
        fraction = batches.taken / len(train_data)
        done += fraction
        score, valid = trainer._valid_epoch(valid_data)
        seconds = time.perf_counter() - start
        if score > best_score:
            best_score, best_epoch, best_valid = score, epoch, dict(valid)
            best_state = copy.deepcopy(model.state_dict())
            seconds_to_best = seconds
        history.append({"epoch": epoch, "fraction": fraction, "loss": float(loss or 0.0) / max(batches.taken, 1),
                        "valid_ndcg@10": float(score), "seconds": seconds})
        print(f"recbole epoch {epoch} ({fraction:.0%} of it): loss {history[-1]['loss']:.4f} "
              f"valid ndcg@10 {float(score):.4f} ({seconds:.1f}s)", file=sys.stderr, flush=True)
        if epoch - best_epoch >= request["patience"] or time.perf_counter() > deadline:
            break
    train_seconds = time.perf_counter() - start
    model.load_state_dict(best_state)
    test = trainer.evaluate(test_data, load_best_model=False)

    uid, iid = config["USER_ID_FIELD"], config["ITEM_ID_FIELD"]
    mask = history_mask([train_data._dataset, valid_data._dataset, test_data._dataset], uid,
                        iid + config["LIST_SUFFIX"], dataset.user_num, dataset.item_num)
    ranks = test_ranks(model, test_data, mask, uid, iid)
    with open(request["targets"], "w") as handle:
        json.dump(split_targets(valid_data, test_data, dataset, uid, iid), handle)
    # An epoch cut short by the budget counts as its fraction of a full one.
    durations = np.diff([0.0] + [h["seconds"] for h in history])
    epoch_seconds = [d / h["fraction"] for d, h in zip(durations, history, strict=True) if h["fraction"] > 0]
    import recbole

    result = {
        "toolkit": f"RecBole {recbole.__version__} SASRec",
        "test": {"ndcg@10": round(float(test["ndcg@10"]), 4), "hr@10": round(float(test["hit@10"]), 4)},
        "test_history_excluded": ranking_metrics(ranks["history_excluded"]),
        "test_history_kept": ranking_metrics(ranks["history_kept"]),
        "test_users": int(len(ranks["history_kept"])),
        "valid_ndcg@10": round(float(best_score), 4),
        "valid": {k: round(float(v), 4) for k, v in best_valid.items()},
        "epochs": round(done, 2),
        "best_epoch": best_epoch,
        "seconds_per_epoch": round(float(np.median(epoch_seconds)), 2) if epoch_seconds else None,
        "seconds_to_best": round(seconds_to_best, 1),
        "seconds_total": round(train_seconds, 1),
        "setup_seconds": round(setup_seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "parameters": sum(p.numel() for p in model.parameters()),
        "users": dataset.user_num - 1,
        "items": dataset.item_num - 1,
        "train_samples_per_epoch": len(train_data._dataset),
        "train_targets_per_epoch": len(train_data._dataset),
        "batches_per_epoch": len(train_data),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "history": [{k: round(v, 4) for k, v in h.items()} for h in history],
    }
    with open(request["result"], "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
