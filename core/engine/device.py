"""Choosing the device, mixed precision and seeds."""

from __future__ import annotations

import contextlib
import functools
import os
import random
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Literal, get_args

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


Precision = Literal["auto", "float32", "bf16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)

#: The precision asked for where no caller names one: :func:`use_precision` sets it (the
#: training loop, for its phase's steps and validation); ``auto`` outside any.
_requested: ContextVar[str] = ContextVar("recgraft_precision", default="auto")


@functools.cache
def cpu_supports_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (AVX512-BF16 or AMX).

    Elsewhere bf16 is emulated and slower than float32 (on an AVX2-only CPU a matmul of the
    logits' shape ran about ten times slower), so ``auto`` keeps float32 there.
    """
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        return any(getattr(torch.cpu, probe)() for probe in probes)
    except (AttributeError, RuntimeError):  # an older torch: read the kernel's flags
        try:
            flags = set(Path("/proc/cpuinfo").read_text().split())
        except OSError:
            return False
        return bool(flags & {"avx512_bf16", "amx_bf16"})


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    return precision


def resolve_precision(
    device: torch.device, precision: str | None = None, *, ranking: bool = False
) -> Literal["float32", "bf16"]:
    """What ``precision`` (the one in force, see :func:`use_precision`, when None) means on ``device``.

    ``auto``: bf16 autocast on CUDA, and for training on a CPU with native bf16
    (:func:`cpu_supports_bf16`); float32 elsewhere (MPS included). With ``ranking`` (the
    scorer) ``auto`` on a CPU is float32 always, so validation, test, ``evaluate``,
    ``recommend``, ``serve`` and ``export`` score a model alike on every CPU. ``bf16`` asks
    for it on CUDA or any CPU, ranking included; ``float32`` turns it off.
    """
    precision = check_precision(_requested.get() if precision is None else precision)
    if precision == "float32":
        return "float32"
    if precision == "bf16":
        if device.type not in ("cuda", "cpu"):
            raise ConfigError(f"precision bf16: recgraft runs bf16 autocast on cuda and cpu only, not on {device.type}")
        return "bf16"
    if device.type == "cuda" or (device.type == "cpu" and not ranking and cpu_supports_bf16()):
        return "bf16"
    return "float32"


def precision_for(device: torch.device, precision: str | None = None) -> str:
    """The precision training runs in, as provenance records it: ``bf16-autocast`` or ``float32``."""
    return "bf16-autocast" if resolve_precision(device, precision) == "bf16" else "float32"


@contextlib.contextmanager
def use_precision(precision: str) -> Iterator[None]:
    """Make ``precision`` the one :func:`autocast` and the scorer use where none is named."""
    token = _requested.set(check_precision(precision))
    try:
        yield
    finally:
        _requested.reset(token)


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool = True, precision: str | None = None) -> Iterator[None]:
    """bf16 autocast where :func:`resolve_precision` says bf16; nothing elsewhere.

    ``enabled=False`` turns an enclosing one off.
    """
    if device.type in ("cuda", "cpu"):
        on = enabled and resolve_precision(device, precision) == "bf16"
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=on):
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
