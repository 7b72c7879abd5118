"""Loss functions shared by objectives and strategies."""

from __future__ import annotations

import contextlib
from typing import Any

import torch


class ChunkedSoftmaxCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of ``hidden @ weight.T`` against ``targets``, computed in row chunks.

    The full ``(N, I)`` logits are never held at once: each chunk's softmax gradient is
    folded into the gradients of ``hidden`` and ``weight`` in the forward pass, so memory
    stays at ``chunk x I`` and large allocations are not repeated every step. Column 0
    (padding) never receives probability.

    Under autocast the three matrix products (the logits and the two gradients) run in the
    autocast dtype (bf16); the log-sum-exp, the loss and the softmax run in float32, and the
    weight's gradient is accumulated over the chunks in its own dtype.
    """

    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int) -> torch.Tensor:
        device_type = hidden.device.type
        mixed = device_type in ("cpu", "cuda") and torch.is_autocast_enabled(device_type)
        compute = torch.get_autocast_dtype(device_type) if mixed else weight.dtype
        with torch.autocast(device_type, enabled=False) if mixed else contextlib.nullcontext():
            n = hidden.shape[0]
            grad_hidden = torch.empty_like(hidden)
            grad_weight = torch.zeros_like(weight)
            w = weight.to(compute)
            total = hidden.new_zeros((), dtype=torch.float32)
            for start in range(0, n, chunk):
                h = hidden[start : start + chunk].to(compute)
                t = targets[start : start + chunk]
                logits = (h @ w.T).float()  # (C, I)
                logits[:, 0] = float("-inf")
                log_norm = torch.logsumexp(logits, dim=1)
                total += (log_norm - logits.gather(1, t.unsqueeze(1)).squeeze(1)).sum()
                probabilities = logits.sub_(log_norm.unsqueeze(1)).exp_()  # softmax, in place
                probabilities[torch.arange(len(t), device=t.device), t] -= 1.0
                probabilities = probabilities.to(compute)
                grad_hidden[start : start + chunk] = probabilities @ w
                if compute == grad_weight.dtype:
                    grad_weight.addmm_(probabilities.T, h)
                else:
                    grad_weight += probabilities.T @ h
        ctx.save_for_backward(grad_hidden, grad_weight)
        ctx.n = max(n, 1)
        return total / ctx.n

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None, None]:
        grad_hidden, grad_weight = ctx.saved_tensors
        scale = grad_output / ctx.n
        return grad_hidden * scale, grad_weight * scale, None, None


def softmax_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Full-softmax cross-entropy of each row of ``hidden`` (N, D) over the items ``weight`` (I, D)."""
    return ChunkedSoftmaxCrossEntropy.apply(hidden, weight, targets, chunk)
