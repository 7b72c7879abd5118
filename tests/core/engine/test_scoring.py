"""The one scorer: no gradients, item scores in float32, the same as calling the model."""

from __future__ import annotations

import torch

from recgraft.engine.scoring import scorer


def test_scores_equal_the_two_steps_called_directly_and_carry_no_gradient() -> None:
    torch.manual_seed(0)
    encode, items = torch.nn.Linear(4, 3), torch.randn(6, 3)
    score = scorer(encode, lambda users: users @ items.T, torch.device("cpu"))
    histories = torch.randn(2, 4)
    out = score(histories)
    assert out.dtype == torch.float32 and not out.requires_grad
    torch.testing.assert_close(out, encode(histories) @ items.T)


def test_item_scores_are_computed_in_float32_from_a_lower_precision_encoding() -> None:
    seen = []

    def score(users: torch.Tensor) -> torch.Tensor:
        seen.append(users.dtype)
        return users.sum(-1, keepdim=True)

    out = scorer(lambda h: h.to(torch.bfloat16), score, torch.device("cpu"))(torch.ones(2, 3))
    assert seen == [torch.float32] and out.dtype == torch.float32
