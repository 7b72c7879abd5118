"""Choosing the device, mixed precision and seeds."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch

from recgraft.components import check_seed
from recgraft.errors import ConfigError

DeviceName = Literal["auto", "cpu", "cuda", "mps"]


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; asking for an absent accelerator is an error.

    Under torchrun, ``cuda`` means this process's GPU, ``cuda:LOCAL_RANK``.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return local_device(torch.device("cuda"))
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available on this machine")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("--device mps: no MPS device is available on this machine")
    try:
        return local_device(torch.device(name))
    except RuntimeError as exc:
        raise ConfigError(f"--device {name}: {exc}") from None


def local_device(device: torch.device) -> torch.device:
    """Under torchrun, an unnumbered CUDA device becomes this process's GPU (``cuda:LOCAL_RANK``)."""
    launched = all(name in os.environ for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"))
    if device.type == "cuda" and device.index is None and launched:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def precision_for(device: torch.device) -> str:
    """The precision training runs in: bf16 autocast on CUDA, float32 elsewhere."""
    return "bf16-autocast" if device.type == "cuda" else "float32"


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """bf16 autocast on CUDA; nothing elsewhere. ``enabled=False`` turns an enclosing one off."""
    if device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=enabled):
            yield
    else:
        yield


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; return a CPU generator for shuffling."""
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
