"""How to train: the settings every training phase (pretraining, transfer) reads."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from recgraft.components import MAX_BATCH, MAX_COUNT, MAX_SEED, ComponentConfig


class TrainConfig(ComponentConfig):
    """How to train: epochs, batches, optimiser, early stopping."""

    epochs: int = Field(200, ge=1, le=MAX_COUNT, description="most epochs to run")
    batch_size: int = Field(128, ge=1, le=MAX_BATCH, description="training windows per optimiser step (per process under torchrun)")
    learning_rate: float = Field(2e-3, gt=0, description="Adam learning rate (transfer strategies scale it per parameter group)")
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant",
        description="constant, or cosine: decay the learning rate to 0 at the end of the run (its epochs, or the "
        "end of the epoch max_minutes is expected to run out in, re-estimated every epoch)",
    )
    warmup_steps: int = Field(0, ge=0, le=MAX_COUNT, description="optimiser steps of linear learning-rate warm-up from 0 (0: none)")
    weight_decay: float = Field(0.0, ge=0, description="Adam weight decay: an L2 penalty added to the gradients")
    sampled_negatives: int = Field(0, ge=0, le=MAX_BATCH, description="0 = full softmax; N = sampled softmax with N negatives")
    clip_grad_norm: float | None = Field(None, gt=0, description="clip the gradients' total norm to this before each step; none: no clipping")
    patience: int = Field(10, ge=1, le=MAX_COUNT, description="epochs without a better validation NDCG@10 before stopping")
    eval_every: int = Field(1, ge=1, le=MAX_COUNT, description="validate every this many epochs (and after the last epoch)")
    all_windows: bool = Field(True, description="train on every window of long histories, not only the latest")
    max_minutes: float | None = Field(None, gt=0, description="stop after this much wall time")
    eval_batch_size: int = Field(512, ge=1, le=MAX_BATCH, description="histories per batch when evaluating (and when caching frozen features)")
    bucket_by_length: bool = Field(
        False, description="batch windows of similar length together: less padding work for encoders that ignore it"
    )
    seed: int = Field(0, ge=0, le=MAX_SEED, description="seeds Python, numpy and torch")
    precision: Literal["auto", "float32", "bf16"] = Field(
        "auto",
        description="auto: bf16 autocast on CUDA, and for training steps on CPUs with native bf16 (AVX512-BF16 or "
        "AMX; ranking on a CPU stays float32), float32 elsewhere; bf16 or float32 to choose. The loss's "
        "log-sum-exp and the item scores are float32 always",
    )
