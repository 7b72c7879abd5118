"""Export a checkpoint's scoring graph (history -> scores over the catalogue) to ONNX.

The graph is the recommender's own scorer (:attr:`recgraft.recommender.Recommender.score`,
the one ``recommend``, ``evaluate`` and ``serve`` use), traced with its weights. Beside the
``.onnx`` file goes ``<file>.items.json``: the item vocabulary (``tokens[i]`` is item id
``i``; id 0 is padding) and how to feed the graph, so a service in another language can use it.

The graph's input ``histories`` is int64 ``(batch, max_length)``: item ids, oldest first,
right-aligned, padded on the left with 0 (the same windows as :func:`~recgraft.recommender.
score_histories` makes). Its output ``scores`` is float32 ``(batch, num_items + 1)``; column 0
is padding and never an answer. Leaving out the history is the caller's job.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recgraft.data.domain import Domain
from recgraft.errors import ConfigError, DataError
from recgraft.item_features import frozen_item_tables
from recgraft.recommender import Recommender, score_histories
from recgraft.registry.files.base import check_output_path, write_file_atomically

#: The largest difference between onnxruntime's and torch's scores that :func:`check_parity`
#: accepts, relative to the largest score magnitude (float32 kernels differ in summation order).
PARITY_TOLERANCE = 1e-4
OPSET = 17


class ExportError(DataError):
    """The export failed, or onnxruntime's scores differ from torch's beyond the tolerance."""


@dataclass(frozen=True)
class OnnxExport:
    """What :func:`export_onnx` wrote, and the parity it measured."""

    graph: Path
    vocabulary: Path
    max_relative_diff: float | None = None  # None: no parity check ran
    checked_histories: int = 0


class _ScoringGraph(torch.nn.Module):
    """The recommender's scorer as a module that owns its weights (so export sees them)."""

    def __init__(self, model: Recommender) -> None:
        super().__init__()
        if model.module is None:
            raise ConfigError("this recommender has no module to export")
        self.owner = model.module
        self.score = model.score

    def forward(self, histories: torch.Tensor) -> torch.Tensor:
        return self.score(histories)


def vocabulary_path(graph: Path) -> Path:
    """Where the item vocabulary of ``graph`` goes: ``model.onnx`` -> ``model.items.json``."""
    return graph.with_suffix(".items.json")


def padded(histories: Sequence[Sequence[int]], max_length: int) -> np.ndarray:
    """Histories of item ids as the graph's input: ``(B, max_length)`` int64, right-aligned."""
    out = np.zeros((len(histories), max_length), dtype=np.int64)
    for row, history in enumerate(histories):
        window = list(history)[-max_length:]
        if window:
            out[row, max_length - len(window):] = window
    return out


def export_onnx(
    model: Recommender,
    out: str | Path,
    reference: str | None = None,
    check: Sequence[Sequence[int]] | None = None,
    tolerance: float = PARITY_TOLERANCE,
    force: bool = False,
) -> OnnxExport:
    """Write ``model``'s scoring graph to ``out`` (ONNX) and its vocabulary beside it; existing
    files are refused unless ``force`` (and only regular files are ever replaced).

    With ``check`` (histories of item ids), onnxruntime scores them and its scores must equal
    torch's within ``tolerance`` (see :func:`check_parity`), else ExportError and nothing is left.
    """
    out = Path(out)
    if model.device.type != "cpu":
        raise ConfigError("export a model loaded on the cpu")
    graph = _ScoringGraph(model).eval()
    example = torch.zeros((2, model.max_length), dtype=torch.long)
    example[:, -1] = 1

    def write_graph(path: Path) -> None:
        # The TorchScript exporter (deprecated in torch 2.9, still shipped) traces any scorer,
        # data-dependent Python included; the parity check below is what vouches for the graph.
        with torch.no_grad(), warnings.catch_warnings(), frozen_item_tables(graph):
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                graph, (example,), str(path), input_names=["histories"], output_names=["scores"],
                dynamic_axes={"histories": {0: "batch"}, "scores": {0: "batch"}},
                opset_version=OPSET, dynamo=False,
            )

    vocabulary = vocabulary_path(out)
    metadata = {
        "checkpoint": reference,
        "kind": model.kind,
        "input": {"name": "histories", "dtype": "int64", "shape": ["batch", model.max_length],
                  "layout": "item ids oldest first, right-aligned, left-padded with 0"},
        "output": {"name": "scores", "dtype": "float32", "shape": ["batch", len(model.items)],
                   "layout": "column i scores item id i; column 0 is padding"},
        "max_length": model.max_length,
        "padding_id": 0,
        "tokens": [str(t) for t in model.items.tokens],
    }
    for path in (out, vocabulary):  # before the export's work, which is slow
        check_output_path(path, replace=force)
    write_file_atomically(out, write_graph, replace=force)
    try:
        write_file_atomically(
            vocabulary, lambda p: p.write_text(json.dumps(metadata), encoding="utf-8"), replace=force
        )
        if not check:
            return OnnxExport(out, vocabulary)
        diff = check_parity(model, out, check, tolerance)
    except BaseException:
        out.unlink(missing_ok=True)
        vocabulary.unlink(missing_ok=True)
        raise
    return OnnxExport(out, vocabulary, diff, len(check))


def evaluation_histories(domain: Domain, model: Recommender, limit: int | None = None, seed: int = 0) -> list[list[int]]:
    """Histories of ``domain``'s test users (leave-one-out by time, held-out item dropped) as the
    model's item ids, items it does not know left out; ``limit`` users drawn with ``seed``."""
    from recgraft.data.split import leave_one_out

    split = leave_one_out(domain)
    history = split.history("test")
    users = split.evaluated_users("test")
    if limit is not None and limit < len(users):
        users = np.sort(np.random.default_rng(seed).choice(users, size=limit, replace=False))
    to_model = model.items.lookup(domain.items.tokens)
    to_model[0] = 0
    chosen = [[int(i) for i in to_model[history.row(int(u))] if i > 0] for u in users]
    return [h for h in chosen if h]


def onnx_session(path: str | Path) -> Any:
    """An onnxruntime inference session on ``path`` (the ``onnx`` extra), on one CPU thread."""
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError("the ONNX parity check needs the onnx extra: pip install 'recgraft[onnx]'") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def check_parity(
    model: Recommender, path: str | Path, histories: Sequence[Sequence[int]], tolerance: float = PARITY_TOLERANCE,
    batch_size: int = 256,
) -> float:
    """The largest difference between onnxruntime's and torch's scores on ``histories``, relative
    to the largest score magnitude; ExportError when it is over ``tolerance``."""
    session = onnx_session(path)
    worst = 0.0
    for start in range(0, len(histories), batch_size):
        chunk = histories[start : start + batch_size]
        inputs = padded(chunk, model.max_length)
        theirs = session.run(["scores"], {"histories": inputs})[0]
        ours = score_histories(model.score, chunk, model.max_length, model.device, False).numpy()
        finite = np.isfinite(ours)
        if not np.array_equal(finite, np.isfinite(theirs)):
            raise ExportError(f"{path}: onnxruntime and torch disagree on which items can be scored")
        scale = max(1.0, float(np.abs(ours[finite]).max(initial=0.0)))
        worst = max(worst, float(np.abs(ours[finite] - theirs[finite]).max(initial=0.0)) / scale)
    if worst > tolerance:
        raise ExportError(f"{path}: onnxruntime's scores differ from torch's by {worst:.2e} "
                          f"(relative), over the tolerance {tolerance:.0e}")
    return worst


def time_one_history(model: Recommender, path: str | Path, history: Sequence[int], repeats: int = 200) -> dict[str, float]:
    """Median milliseconds to score one history with torch and with onnxruntime."""
    session = onnx_session(path)
    inputs = padded([history], model.max_length)
    timings: dict[str, list[float]] = {"torch_ms": [], "onnxruntime_ms": []}
    for _ in range(repeats):
        start = time.perf_counter()
        score_histories(model.score, [history], model.max_length, model.device, model.padding_invariant)
        timings["torch_ms"].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        session.run(["scores"], {"histories": inputs})
        timings["onnxruntime_ms"].append((time.perf_counter() - start) * 1000)
    return {name: float(np.median(values)) for name, values in timings.items()}
