"""The one scorer: right-aligned histories ``(B, L)`` to scores over the catalogue ``(B, I + 1)``.

Validation, test, ``evaluate``, ``recommend``, ``serve`` and ``export`` all rank through
:func:`scorer`, so a model's metrics are computed in one precision everywhere: the history
is encoded under the device's mixed precision (:func:`recgraft.engine.device.autocast`: the
precision in force when the scorer is made, see :func:`recgraft.engine.device.use_precision`;
``auto`` encodes in bf16 on CUDA and in float32 on every CPU), and the last step, scoring every item, runs in float32. Ranking in bf16 would create ties
among items, and ties count against the held-out item.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from recgraft.engine.device import autocast, resolve_precision

Scorer = Callable[[torch.Tensor], torch.Tensor]  # histories (B, L) -> scores (B, I + 1)


def scorer(
    encode: Callable[[torch.Tensor], torch.Tensor],
    score: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device,
) -> Scorer:
    """``score(encode(histories))`` without gradients: ``encode`` under mixed precision,
    ``score`` (the item scores) in float32."""
    precision = resolve_precision(device, ranking=True)  # the one in force now, whenever it is called

    @torch.no_grad()
    def run(histories: torch.Tensor) -> torch.Tensor:
        with autocast(device, precision=precision):
            encoded = encode(histories)
        with autocast(device, enabled=False):
            return score(encoded.float()).float()

    return run
