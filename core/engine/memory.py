"""A rough estimate of the memory a training run needs, checked before any model is built, so
settings too large for the machine fail in one line instead of in the allocator (or swap)."""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from typing import Protocol

import torch

from recgraft.engine.config import TrainConfig
from recgraft.errors import ConfigError


class ModelSize(Protocol):
    """What the estimate reads of an encoder's config (``recgraft.encoder.EncoderConfig``)."""

    embedding_dim: int
    max_length: int


FLOAT = 4  # bytes
#: Per parameter: the weight, its gradient and Adam's two moments.
PER_PARAMETER = 4 * FLOAT
#: Per position and embedding unit: a lower bound on the activations kept for the backward pass.
PER_ACTIVATION = 8 * FLOAT
#: Rows of full-softmax logits computed at once in training (see recgraft.losses).
SOFTMAX_CHUNK = 2048


def device_memory(device: torch.device) -> int | None:
    """Total memory of ``device`` in bytes (the machine's RAM off CUDA); None when unknown."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows) or no such name
        return None


def training_bytes(config: ModelSize, num_items: int, longest_history: int, train: TrainConfig) -> int:
    """A low estimate of the bytes one training step needs: item table and positions with their
    optimiser state, the activations of a batch, and the larger of the training and scoring logits."""
    rows, dim = num_items + 1, config.embedding_dim
    length = max(1, min(config.max_length, longest_history))
    parameters = (rows + config.max_length) * dim * PER_PARAMETER
    activations = train.batch_size * length * dim * PER_ACTIVATION
    scored = train.sampled_negatives + 1 if train.sampled_negatives else rows
    logits = max(
        (train.batch_size * length if train.sampled_negatives else SOFTMAX_CHUNK) * scored,
        train.eval_batch_size * rows,
    ) * 2 * FLOAT  # the scores and their softmax gradient
    return parameters + activations + logits


def check_memory(
    label: str, config: ModelSize, num_items: int, longest_history: int, train: TrainConfig,
    device: torch.device, available: int | None = None,
) -> None:
    """ConfigError when the estimate exceeds the device's memory (``available`` bytes when given)."""
    limit = available if available is not None else device_memory(device)
    needed = training_bytes(config, num_items, longest_history, train)
    if limit is None or needed <= limit:
        return
    raise ConfigError(
        f"{label}: needs at least {needed / 2**30:,.1f} GiB ({num_items:,} items, embedding_dim "
        f"{config.embedding_dim}, max_length {config.max_length}, batch_size {train.batch_size}, "
        f"eval_batch_size {train.eval_batch_size}), more than the {limit / 2**30:,.1f} GiB of {device.type}; "
        "lower those settings"
    )


#: Optimiser steps between two :func:`release_freed_memory` calls in the training loop.
RELEASE_EVERY = 16


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None elsewhere (musl, macOS, Windows)."""
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    function: Callable[[int], int] = trim
    return function


def release_freed_memory() -> None:
    """Hand memory that tensors have freed back to the operating system.

    Training batches hold different numbers of targets, so their tensors come in ever new
    sizes; glibc's allocator keeps the freed blocks and the process's memory grew by about
    20 MB a step (3.7 GB after two ML-1M epochs). Trimming every :data:`RELEASE_EVERY`
    steps kept it at 1.7-2.0 GB over two epochs (2.8-3.1 GB peak in whole ML-1M runs, evaluation
    included) at no measurable cost; trimming every step cost 10%.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
