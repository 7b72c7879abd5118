"""Transfer gains on MovieLens: ML-1M (source) -> ML-100K (target), every strategy vs scratch.

Items are aligned by title; the target keeps a seeded fraction of its training users
(``keep_train_fraction``: every user is still evaluated, histories are model inputs), and
each run chooses its epoch on validation NDCG@10 (the zero-shot model is epoch 0) and reads
the test split once (DESIGN.md's reference protocol: leave-one-out, full ranking).

Default grid: the transformer with every strategy at fractions 0.05, 0.1, 0.25, 1.0; lstm
and gan at 0.1 and 1.0; seeds 0, 1, 2. Outputs (in --out): ``results.jsonl`` (one run per
line; runs already there are skipped, so an interrupted grid resumes), ``table.md`` (means
over seeds of test NDCG@10 and HR@10 against scratch, relative gain) and ``ndcg.png``.

    python bench/transfer_movielens.py --out docs/results/transfer --source-epochs 200
    python bench/transfer_movielens.py --source-checkpoint ml-1m-transformer --encoders transformer \\
        --fractions 0.05 0.1 --seeds 0 --strategies scratch finetune
    python bench/transfer_movielens.py --synthetic --out /tmp/transfer-toy     # toy scale, minutes on a CPU

Training runs at batch 32 (small targets take many small steps) with length bucketing
(``bucket_by_length``); every strategy, scratch included, gets the same training settings
unless a variant says otherwise.

A strategy may carry settings, ``finetune:source_mix=1.0,encoder_lr_scale=0.1``, so several
variants of one strategy run side by side; ``train.KEY=VALUE`` settings change the training
(``scratch:train.batch_size=128,train.learning_rate=0.002``). The table's "best" row per
encoder and fraction is the variant with the highest mean *validation* NDCG@10 over seeds,
reported on test; the baseline it is measured against is chosen the same way among the
scratch variants, so that an under-tuned scratch cannot inflate a gain.
``--merge DIR...`` pools the results.jsonl of runs made in parallel into --out; a run in a later DIR
replaces the same run (encoder, strategy, fraction, seed) in an earlier one, so a rerun supersedes.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from paired_report import interval_text, per_user_ndcg

from recgraft.transfer.baseline import gain


def gain_text(ours: float | None, theirs: float | None) -> str:
    """The relative gain (:func:`recgraft.transfer.baseline.gain`) as a signed percentage, or ``-``."""
    relative = None if ours is None or theirs is None else gain(ours, theirs)
    return "-" if relative is None else f"{relative:+.1%}"

#: The encoder field of the reference models' rows (they transfer nothing).
REFERENCE = "reference"
REFERENCES = ["popular", "itemknn", "ease", "bpr"]
CLOSED_FORM = ("popular", "itemknn", "ease")
KEEP = ("ndcg@10", "hr@10", "ndcg@20", "hr@20", "mrr@10")  # the metrics a row keeps
GRID = {"transformer": [0.05, 0.1, 0.25, 1.0], "lstm": [0.1, 1.0], "gan": [0.1, 1.0]}
STRATEGIES = ["scratch", "direct", "fusion", "finetune"]
TOY_ENCODERS = {
    "transformer": {"embedding_dim": 16, "max_length": 20, "num_layers": 1},
    "lstm": {"embedding_dim": 16, "hidden_dim": 16, "max_length": 20},
    "gan": {"embedding_dim": 16, "hidden_dim": 32, "max_length": 20},
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_domains(args: argparse.Namespace) -> tuple[Any, Any]:
    if args.synthetic:
        from recgraft.data.synthetic import synthetic_domains

        return tuple(synthetic_domains(num_users=(400, 150), num_items=(120, 100), interactions_per_user=(30, 14), seed=0))
    from recgraft.data.loader import load_domain

    return load_domain(args.source), load_domain(args.target)


def source_model(args: argparse.Namespace, encoder: str, source: Any) -> Any:
    """A pretrained source model for ``encoder``: from --source-checkpoint, or pretrained here."""
    from recgraft.transfer import SourceModel

    for reference in args.source_checkpoint:
        from recgraft.checkpoint import from_bytes
        from recgraft.registry import Registry

        registry = Registry.open(url=args.registry)
        record = registry.resolve(reference)
        if record.encoder == encoder:
            log(f"source {encoder}: {record.reference}")
            return SourceModel.from_contents(from_bytes(registry.read_bytes(record)), record.reference)
    from recgraft.pretrain import pretrain

    config = TOY_ENCODERS[encoder] if args.synthetic else {}
    train = {"epochs": args.source_epochs, "seed": 0}
    if args.source_minutes:
        train["max_minutes"] = args.source_minutes
    started = time.perf_counter()
    trained = pretrain(source, encoder, config, train, device=args.device, progress=True)
    log(f"pretrained {encoder} on {source.name} in {time.perf_counter() - started:.0f}s: "
        f"test NDCG@10 {trained.test['ndcg@10']:.4f} (best epoch {trained.result.best_epoch})")
    reference = None
    if args.registry:
        from recgraft.registry import Registry

        reference = trained.register(Registry.open(url=args.registry)).reference
    domain = trained.domain
    return SourceModel(trained.encoder, encoder, domain.items, dict(domain.item_features), reference, domain.name)


def other_checkpoint(args: argparse.Namespace, reference: str) -> tuple[str, bytes]:
    """A checkpoint a strategy asks for (``blend:partner=REF``), from the --registry."""
    from recgraft.checkpoint import registry_reader
    from recgraft.registry import Registry

    with Registry.open(url=args.registry) as registry:
        return registry_reader(registry)(reference)


def parse_variant(label: str, shared: list[str]) -> tuple[str, dict[str, str]]:
    """``finetune:source_mix=1.0,encoder_lr_scale=0.1`` -> ("finetune", settings); --set values first.
    Commas inside a JSON list (``blend:weight_choices=[0.5,0.7]``) do not separate settings."""
    name, _, own = label.partition(":")
    settings = dict(setting.split("=", 1) for setting in shared)
    settings.update(dict(item.split("=", 1) for item in re.split(r",(?![^\[]*\])", own) if item))
    return name, settings


def setting_value(text: str) -> Any:
    """A variant's setting: JSON (``0.1``, ``false``, ``["blocks"]``), else the text itself (``ml-1m-lstm@1``)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def target_split(target: Any, fraction: float, seed: int) -> Any:
    """The target's leave-one-out split keeping a seeded ``fraction`` of its training users
    (every user still evaluated): the same split for every run of a (fraction, seed)."""
    from recgraft.data.split import keep_train_fraction, leave_one_out

    split = leave_one_out(target)
    return split if fraction >= 1.0 else keep_train_fraction(split, fraction, seed)


def run_one(args: argparse.Namespace, source: Any, source_domain: Any, target: Any, encoder: str,
            label: str, fraction: float, seed: int) -> dict[str, Any]:
    from recgraft.transfer import Transfer

    split = target_split(target, fraction, seed)
    strategy, settings = parse_variant(label, args.set)
    transfer = Transfer(source, strategy=strategy, align_on=args.align_on, source_domain=source_domain,
                        checkpoints=lambda reference: other_checkpoint(args, reference))
    known = type(transfer.strategy).Config.model_fields
    config = {k: setting_value(v) for k, v in settings.items() if k in known}
    if config:
        transfer = transfer.with_strategy(strategy, config)
    training = {k.removeprefix("train."): setting_value(v) for k, v in settings.items() if k.startswith("train.")}
    train = {"seed": seed, "epochs": args.epochs, "patience": args.patience, "learning_rate": args.learning_rate,
             "batch_size": args.batch_size, "bucket_by_length": True, **training}
    started = time.perf_counter()
    result = transfer.fit(split, train, device=args.device)
    test = result.evaluate("test", breakdown=True, per_user=True)  # read once
    return {
        "encoder": encoder, "strategy": label, "fraction": fraction, "seed": seed,
        "source": source.reference, "settings": {**config, **{f"train.{k}": v for k, v in training.items()}},
        "test": {k: round(float(test[k]), 5) for k in KEEP},
        "valid": {k: round(float(result.training.valid[k]), 5) for k in KEEP},
        "zero_shot_valid": {k: round(float(result.training.zero_shot_valid[k]), 5) for k in KEEP},
        "best_epoch": result.training.best_epoch, "epochs": result.training.epochs,
        **({"chosen_on_validation": result.training.chosen} if result.training.chosen else {}),
        "seconds": round(time.perf_counter() - started, 1), "train_users": int(len(split.train_users)),
        "overlap": result.alignment.report(), "device": str(result.device),
        "test_by_history_length": {v["bucket"]: {"users": v["users"], "ndcg@10": round(float(v["ndcg@10"]), 5)}
                                   for v in test["by_history_length"]},
        "test_ndcg_per_user": per_user_ndcg(test),
    }


def run_reference(args: argparse.Namespace, target: Any, name: str, fraction: float, seed: int) -> dict[str, Any]:
    """A non-transfer reference model (``popular``, ``itemknn``, ``ease``, ``bpr``) on the same
    target split; the closed-form ones choose their setting on validation, bpr its epoch."""
    from recgraft.pretrain import pretrain
    from recgraft.recommender import load_recommender

    split = target_split(target, fraction, seed)
    train = {"seed": seed} if name in CLOSED_FORM else {"seed": seed, "epochs": args.epochs, "patience": args.patience}
    started = time.perf_counter()
    trained = pretrain(split, name, {}, train, device=args.device)
    test = load_recommender(trained.to_bytes(), trained.device).evaluate(split, "test", per_user=True)
    return {
        "encoder": REFERENCE, "strategy": name, "fraction": fraction, "seed": seed, "settings": {},
        "test": {k: round(float(test[k]), 5) for k in KEEP},
        "valid": {k: round(float(trained.result.valid[k]), 5) for k in KEEP},
        "best_epoch": trained.result.best_epoch, "epochs": trained.result.epochs,
        "seconds": round(time.perf_counter() - started, 1), "train_users": int(len(split.train_users)),
        "test_ndcg_per_user": per_user_ndcg(test),
    }


def complete(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of variants run on every seed of their (encoder, fraction) cell; exploratory
    variants run on fewer seeds stay in results.jsonl but out of the table and the plot."""
    seeds: dict[tuple[str, float, str], set[int]] = defaultdict(set)
    for row in rows:
        seeds[(row["encoder"], row["fraction"], row["strategy"])].add(row["seed"])
    most: dict[tuple[str, float], int] = defaultdict(int)
    for (encoder, fraction, _), found in seeds.items():
        most[(encoder, fraction)] = max(most[(encoder, fraction)], len(found))
    return [r for r in rows if len(seeds[(r["encoder"], r["fraction"], r["strategy"])]) == most[(r["encoder"], r["fraction"])]]


def model_kind(row: dict[str, Any]) -> tuple[str, str]:
    """("single" or "ensemble", "transfer" or "scratch"): a blend is two models, and a run that
    uses no pretrained weights (scratch, the blend's control) is the scratch side of its kind."""
    name = row["strategy"].split(":")[0]
    return ("ensemble" if name == "blend" else "single"), ("scratch" if name == "scratch" or is_control(row) else "transfer")


def variants_tried(by_label: dict[str, list[dict[str, Any]]]) -> int:
    """The settings a side chose among: each label, times its blend weights chosen on validation."""
    return sum(len(runs[0].get("settings", {}).get("weight_choices") or [None]) for runs in by_label.values())


def like_for_like(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown: per encoder and fraction, the best single transferred model against the best
    single scratch model, and the best transferred ensemble against the best ensemble of as
    many members from random starts; each side chosen on mean validation NDCG@10 among its own
    variants (how many, shown), reported on test with the spread over seeds, the relative gain
    and the paired bootstrap over users of the seed-averaged per-user NDCG@10 (95%)."""
    sides: dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in complete(rows):
        sides[(row["encoder"], row["fraction"], *model_kind(row))][row["strategy"]].append(row)

    def chosen(by_label: dict[str, list[dict[str, Any]]]) -> str:
        return max(by_label, key=lambda label: statistics.fmean(r["valid"]["ndcg@10"] for r in by_label[label]))

    def test(runs: list[dict[str, Any]]) -> str:
        values = [r["test"]["ndcg@10"] for r in runs]
        return f"{statistics.fmean(values):.4f} ({statistics.pstdev(values) if len(values) > 1 else 0.0:.4f})"

    lines = ["| encoder | fraction | models | transfer: chosen on validation (variants) | test NDCG@10 (spread) "
             "| scratch: chosen on validation (variants) | test NDCG@10 (spread) | gain | 95% interval |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for encoder, fraction, kind in sorted({key[:3] for key in sides}, key=lambda k: (k[0], k[2] == "ensemble", k[1])):
        ours, theirs = sides.get((encoder, fraction, kind, "transfer")), sides.get((encoder, fraction, kind, "scratch"))
        if not ours or not theirs:
            continue
        mine, base = chosen(ours), chosen(theirs)
        a, b = ours[mine], theirs[base]
        lines.append(f"| {encoder} | {fraction:g} | {'1' if kind == 'single' else '2'} | {mine} ({variants_tried(ours)}) "
                     f"| {test(a)} | {base} ({variants_tried(theirs)}) | {test(b)} "
                     f"| {gain_text(statistics.fmean(r['test']['ndcg@10'] for r in a), statistics.fmean(r['test']['ndcg@10'] for r in b))} "
                     f"| {interval_text(a, b)} |")
    return lines


def references_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown: the reference models' test NDCG@10 per fraction (means over seeds)."""
    cells: dict[tuple[float, str], list[float]] = defaultdict(list)
    for row in rows:
        cells[(row["fraction"], row["strategy"])].append(row["test"]["ndcg@10"])
    names = [n for n in REFERENCES if any(name == n for _, name in cells)]
    lines = ["| fraction | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for fraction in sorted({f for f, _ in cells}):
        lines.append(f"| {fraction:g} | " + " | ".join(
            f"{statistics.fmean(cells[(fraction, n)]):.4f}" if cells.get((fraction, n)) else "-" for n in names) + " |")
    return lines


def summarize(rows: list[dict[str, Any]]) -> str:
    """Markdown: the like-for-like table (:func:`like_for_like`) and the reference models, then
    every variant's means over seeds of test NDCG@10 and HR@10 against scratch."""
    references = [r for r in rows if r["encoder"] == REFERENCE]
    rows = complete([r for r in rows if r["encoder"] != REFERENCE])
    head = ["Like for like: one model against one, two against two, each side chosen on validation:", ""]
    head += like_for_like(rows)
    if references:
        head += ["", "Reference models on the same target splits (test NDCG@10, means over seeds):", ""]
        head += references_table(references)
    head += ["", "Every variant against the scratch variant chosen on validation:", ""]
    groups: dict[tuple[str, float, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["encoder"], row["fraction"], row["strategy"])].append(row)

    def mean(key: tuple[str, float, str], metric: str) -> float | None:
        values = [r["test"][metric] for r in groups.get(key, [])]
        return statistics.fmean(values) if values else None

    baselines = chosen_baselines(rows)
    lines = head + ["| encoder | fraction | strategy | seeds | NDCG@10 | HR@10 | scratch NDCG@10 | scratch HR@10 | gain NDCG@10 | gain HR@10 |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (encoder, fraction, strategy), runs in sorted(groups.items()):
        base = (encoder, fraction, baselines.get((encoder, fraction), "scratch"))
        if strategy == base[2]:
            continue
        cells = []
        for metric in ("ndcg@10", "hr@10"):
            ours, theirs = mean((encoder, fraction, strategy), metric), mean(base, metric)
            cells.append((ours, theirs, None if ours is None or theirs is None else gain(ours, theirs)))
        spread = statistics.pstdev([r["test"]["ndcg@10"] for r in runs]) if len(runs) > 1 else 0.0

        def fmt(value: float | None, pct: bool = False) -> str:
            return "-" if value is None else f"{value:+.1%}" if pct else f"{value:.4f}"

        lines.append(
            f"| {encoder} | {fraction:g} | {strategy} | {len(runs)} | {fmt(cells[0][0])} ± {spread:.4f} | {fmt(cells[1][0])} "
            f"| {fmt(cells[0][1])} | {fmt(cells[1][1])} | {fmt(cells[0][2], True)} | {fmt(cells[1][2], True)} |"
        )
    lines += ["", "Best variant per encoder and fraction, chosen on mean validation NDCG@10 (test figures):", "",
              "| encoder | fraction | chosen | valid NDCG@10 | test NDCG@10 | scratch | gain NDCG@10 | gain HR@10 |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    chosen = chosen_variants(rows)
    for (encoder, fraction), label in sorted(chosen.items()):
        key, base = (encoder, fraction, label), (encoder, fraction, baselines.get((encoder, fraction), "scratch"))
        valid = statistics.fmean(r["valid"]["ndcg@10"] for r in groups[key])
        ours, theirs = mean(key, "ndcg@10"), mean(base, "ndcg@10")
        hr_ours, hr_theirs = mean(key, "hr@10"), mean(base, "hr@10")
        lines.append(f"| {encoder} | {fraction:g} | {label} | {valid:.4f} | {ours:.4f} | "
                     f"{'-' if theirs is None else f'{theirs:.4f}'} | {gain_text(ours, theirs)} | "
                     f"{gain_text(hr_ours, hr_theirs)} |")
    lines += ["", "Scratch baseline per encoder and fraction, chosen on mean validation NDCG@10 among the scratch variants:", "",
              "| encoder | fraction | scratch chosen | valid NDCG@10 | test NDCG@10 |", "| --- | --- | --- | --- | --- |"]
    for (encoder, fraction), label in sorted(baselines.items()):
        runs = groups[(encoder, fraction, label)]
        lines.append(f"| {encoder} | {fraction:g} | {label} | {statistics.fmean(r['valid']['ndcg@10'] for r in runs):.4f} "
                     f"| {statistics.fmean(r['test']['ndcg@10'] for r in runs):.4f} |")
    lines += controls_table(rows, groups, chosen)
    lines += ["", "Test NDCG@10 by history length (users' number of training items), chosen variant vs scratch:", ""]
    lines += breakdown_table(rows, groups, baselines)
    return "\n".join(lines) + "\n"


def chosen_variants(rows: list[dict[str, Any]], per_strategy: bool = False) -> dict[tuple[Any, ...], str]:
    """For each (encoder, fraction), the non-scratch variant with the best mean validation NDCG@10
    among those run on every seed (:func:`complete`). With ``per_strategy`` the choice is made
    for each (encoder, fraction, strategy) instead, among that strategy's variants (``name:settings``),
    where a control counts as a strategy of its own (``blend control``)."""
    valid: dict[tuple[Any, ...], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in complete(rows):
        strategy = row["strategy"].split(":")[0] + (" control" if is_control(row) else "")
        if per_strategy:
            valid[(row["encoder"], row["fraction"], strategy)][row["strategy"]].append(row["valid"]["ndcg@10"])
        elif strategy != "scratch" and not is_control(row):
            valid[(row["encoder"], row["fraction"])][row["strategy"]].append(row["valid"]["ndcg@10"])
    return {key: max(by_label, key=lambda label: statistics.fmean(by_label[label]))
            for key, by_label in valid.items()}


def is_control(row: dict[str, Any]) -> bool:
    """A run that uses no pretrained weights outside ``scratch``: ``blend:pretrained=false``, the
    blending-only control. It is shown beside the transfers, never chosen as one."""
    return row.get("settings", {}).get("pretrained") is False


def controls_table(rows: list[dict[str, Any]], groups: dict[tuple[str, float, str], list[dict[str, Any]]],
                   chosen: dict[tuple[Any, ...], str]) -> list[str]:
    """The chosen variant against the best control of its cell with the same partner (chosen on
    validation): two models of the same architectures, where the cell has one."""
    controls: dict[tuple[Any, ...], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in complete(rows):
        if is_control(row):
            partner = row["settings"].get("partner")
            controls[(row["encoder"], row["fraction"], partner)][row["strategy"]].append(row["valid"]["ndcg@10"])
    if not controls:
        return []
    lines = ["", "The chosen variant against the same number of models trained from random starts "
             "(the blending-only control, chosen on validation):", "",
             "| encoder | fraction | chosen | test NDCG@10 | control | control valid / test NDCG@10 | gain NDCG@10 |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for key, label in sorted(chosen.items()):
        by_label = controls.get((*key, groups[(*key, label)][0]["settings"].get("partner")))
        if not by_label:
            continue
        control = max(by_label, key=lambda label: statistics.fmean(by_label[label]))
        ours = statistics.fmean(r["test"]["ndcg@10"] for r in groups[(*key, label)])
        theirs = statistics.fmean(r["test"]["ndcg@10"] for r in groups[(*key, control)])
        lines.append(f"| {key[0]} | {key[1]:g} | {label} | {ours:.4f} | {control} | "
                     f"{statistics.fmean(by_label[control]):.4f} / {theirs:.4f} | {gain_text(ours, theirs)} |")
    return lines


def chosen_baselines(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], str]:
    """For each (encoder, fraction), the scratch variant with the best mean validation NDCG@10."""
    return {(encoder, fraction): label for (encoder, fraction, strategy), label in
            chosen_variants(rows, per_strategy=True).items() if strategy == "scratch"}


def breakdown_table(rows: list[dict[str, Any]], groups: dict[tuple[str, float, str], list[dict[str, Any]]],
                    baselines: dict[tuple[Any, ...], str]) -> list[str]:
    users: dict[str, int] = {}
    for r in rows:
        for bucket, cell in r.get("test_by_history_length", {}).items():
            users[bucket] = max(users.get(bucket, 0), cell["users"])
    buckets = [b for b, count in users.items() if count]  # empty buckets (no such users) say nothing
    lines = ["| encoder | fraction | chosen | " + " | ".join(f"{b} ({users[b]} users)" for b in buckets) + " |",
             "| --- | --- | --- |" + " --- |" * len(buckets)]
    for (encoder, fraction), label in sorted(chosen_variants(rows).items()):
        cells, base = [], baselines.get((encoder, fraction), "scratch")
        for bucket in buckets:
            ours, theirs = (bucket_mean(groups.get((encoder, fraction, strategy), []), bucket) for strategy in (label, base))
            cells.append("-" if ours is None or theirs is None else f"{ours:.3f} vs {theirs:.3f}")
        lines.append(f"| {encoder} | {fraction:g} | {label} | " + " | ".join(cells) + " |")
    return lines


def bucket_mean(runs: list[dict[str, Any]], bucket: str) -> float | None:
    values = [r["test_by_history_length"][bucket]["ndcg@10"] for r in runs if bucket in r.get("test_by_history_length", {})]
    return statistics.fmean(values) if values else None


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """NDCG@10 against the target train fraction, one line per strategy (mean, min-max band over
    seeds); where a strategy ran in several variants, the one chosen on validation at each fraction.
    Skipped, saying so, without matplotlib (the ``plot`` extra)."""
    try:
        import matplotlib
    except ImportError:
        log(f"not drawing {path}: matplotlib is not installed (pip install -e '.[plot]')")
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = complete([r for r in rows if r["encoder"] != REFERENCE])
    tests: dict[tuple[str, float, str], list[float]] = defaultdict(list)
    for r in rows:
        tests[(r["encoder"], r["fraction"], r["strategy"])].append(r["test"]["ndcg@10"])
    chosen = chosen_variants(rows, per_strategy=True)
    encoders = sorted({r["encoder"] for r in rows})
    colors: dict[str, str] = {}  # one colour per strategy across the panels
    figure, axes = plt.subplots(1, len(encoders), figsize=(5 * len(encoders), 4), squeeze=False)
    for axis, encoder in zip(axes[0], encoders, strict=True):
        for strategy in sorted({s for e, _, s in chosen if e == encoder}):
            xs = sorted(f for e, f, s in chosen if e == encoder and s == strategy)
            runs = [tests[(encoder, x, chosen[(encoder, x, strategy)])] for x in xs]
            variants = {r["strategy"] for r in rows if r["encoder"] == encoder and r["strategy"].split(":")[0] == strategy}
            label = strategy + (" (variant chosen on validation)" if len(variants) > 1 else "")
            style = ({"linestyle": "--", "color": "black"} if strategy == "scratch"
                     else {"linestyle": ":", "color": "grey"} if strategy.endswith(" control")
                     else {"color": colors.setdefault(strategy, f"C{len(colors)}")})
            (line,) = axis.plot(xs, [statistics.fmean(r) for r in runs], marker="o", label=label, **style)
            axis.fill_between(xs, [min(r) for r in runs], [max(r) for r in runs], alpha=0.15, color=line.get_color())
        axis.set_xscale("log")
        axis.set_xlabel("target train fraction")
        axis.set_ylabel("test NDCG@10")
        axis.set_title(encoder)
        axis.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="../shared/data/ml-1m")
    parser.add_argument("--target", default="../shared/data/ml-100k")
    parser.add_argument("--synthetic", action="store_true", help="toy scale on synthetic domains (a smoke test)")
    parser.add_argument("--source-checkpoint", action="append", default=[], metavar="REF",
                        help="registered source checkpoint (repeat per encoder); else the source is pretrained here")
    parser.add_argument("--registry", default=None, metavar="URL", help="registry for --source-checkpoint (and to keep pretrained sources)")
    parser.add_argument("--source-epochs", type=int, default=200, help="most pretraining epochs (early stopping on validation)")
    parser.add_argument("--source-minutes", type=float, default=None, help="pretraining wall-time budget per encoder")
    parser.add_argument("--encoders", nargs="*", default=list(GRID), help="none: only the --references")
    parser.add_argument("--strategies", nargs="+", default=STRATEGIES)
    parser.add_argument("--fractions", nargs="+", type=float, default=None, help="default: the grid per encoder")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--align-on", default="movie_title", help="item column to align on ('token' for tokens)")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=32, help="training windows per step (small targets: small batches)")
    parser.add_argument("--references", nargs="*", default=[], choices=REFERENCES,
                        help="reference models trained on each target split of --fractions and --seeds, shown beside the transfers")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="strategy setting (where it applies)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("bench-results/transfer-movielens"))
    parser.add_argument("--merge", nargs="+", type=Path, default=None, metavar="DIR",
                        help="pool these runs' results.jsonl into --out and summarise (a later DIR's run replaces the "
                        "same encoder, strategy, fraction and seed in an earlier one); train nothing")
    args = parser.parse_args()
    if args.merge:
        args.out.mkdir(parents=True, exist_ok=True)
        pooled: dict[tuple[Any, ...], dict[str, Any]] = {}  # a run in a later DIR replaces the same run earlier
        for d in args.merge:
            if (d / "results.jsonl").exists():
                for line in (d / "results.jsonl").read_text().splitlines():
                    if line.strip():
                        row = json.loads(line)
                        pooled[(row["encoder"], row["strategy"], row["fraction"], row["seed"])] = row
        rows = list(pooled.values())
        (args.out / "results.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
        (args.out / "table.md").write_text(summarize(rows))
        plot(rows, args.out / "ndcg.png")
        print((args.out / "table.md").read_text())
        return
    if args.synthetic:
        args.align_on = "title" if args.align_on == "movie_title" else args.align_on
        args.source_epochs = min(args.source_epochs, 15)
        args.epochs = min(args.epochs, 15)
        args.patience = min(args.patience, 4)
        args.learning_rate = max(args.learning_rate, 3e-3)

    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()] if results.exists() else []
    done = {(r["encoder"], r["strategy"], r["fraction"], r["seed"]) for r in rows}
    source_domain, target = load_domains(args)
    for name, fraction, seed in [(n, f, seed) for f in args.fractions or sorted({f for fs in GRID.values() for f in fs})
                                 for n in args.references for seed in args.seeds]:
        if (REFERENCE, name, fraction, seed) in done:
            continue
        row = run_reference(args, target, name, fraction, seed)
        log(f"{name:8} f={fraction:<5g} seed={seed}: test NDCG@10 {row['test']['ndcg@10']:.4f} ({row['seconds']:.0f}s)")
        rows.append(row)
        with results.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
    for encoder in args.encoders:
        fractions = args.fractions or GRID.get(encoder, [0.1, 1.0])
        todo = [(s, f, seed) for f in fractions for s in args.strategies for seed in args.seeds
                if (encoder, s, f, seed) not in done]
        if not todo:
            continue
        source = source_model(args, encoder, source_domain)
        for strategy, fraction, seed in todo:
            row = run_one(args, source, source_domain, target, encoder, strategy, fraction, seed)
            log(f"{encoder} {strategy:8} f={fraction:<5g} seed={seed}: test NDCG@10 {row['test']['ndcg@10']:.4f} "
                f"HR@10 {row['test']['hr@10']:.4f} (zero-shot valid {row['zero_shot_valid']['ndcg@10']:.4f}, "
                f"best epoch {row['best_epoch']}, {row['seconds']:.0f}s)")
            rows.append(row)
            with results.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
    (args.out / "table.md").write_text(summarize(rows))
    plot(rows, args.out / "ndcg.png")
    print((args.out / "table.md").read_text())


if __name__ == "__main__":
    main()
