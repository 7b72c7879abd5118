"""The chunked full-softmax cross-entropy: exact in float32, float32 log-sum-exp under bf16 autocast."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from recgraft.losses import softmax_cross_entropy


def reference(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = hidden @ weight.T
    logits[:, 0] = float("-inf")  # the pad never receives probability
    return F.cross_entropy(logits, targets)


def inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return torch.randn(300, 16, requires_grad=True), torch.randn(50, 16, requires_grad=True), torch.randint(1, 50, (300,))


def gradients(loss: torch.Tensor, *tensors: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss, tensors))


def test_chunks_give_the_loss_and_gradients_of_the_whole_softmax() -> None:
    hidden, weight, targets = inputs()
    expected = reference(hidden, weight, targets)
    loss = softmax_cross_entropy(hidden, weight, targets, chunk=64)
    torch.testing.assert_close(loss, expected)
    for got, want in zip(gradients(loss, hidden, weight), gradients(expected, hidden, weight), strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("hidden_dtype", [torch.float32, torch.bfloat16])
def test_under_bf16_autocast_the_loss_stays_float32_and_within_a_stated_tolerance(hidden_dtype: torch.dtype) -> None:
    """The three products run in bf16 (8 bits of mantissa); the log-sum-exp in float32, so the
    loss is within 0.5% and each gradient within 2% of its largest entry."""
    hidden, weight, targets = inputs()
    expected = reference(hidden, weight, targets)
    want = gradients(expected, hidden, weight)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = softmax_cross_entropy(hidden.to(hidden_dtype), weight, targets, chunk=64)
    assert loss.dtype == torch.float32
    assert abs(loss.item() - expected.item()) <= 5e-3 * expected.item()
    got = gradients(loss, hidden, weight)
    assert [g.dtype for g in got] == [torch.float32, torch.float32]
    for g, w in zip(got, want, strict=True):
        assert float((g - w).abs().max()) <= 2e-2 * float(w.abs().max())
