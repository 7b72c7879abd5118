"""The one scorer: no gradients, item scores in float32, the same as calling the model."""

from __future__ import annotations

import pytest
import torch

from recgraft.engine.device import use_precision
from recgraft.engine.scoring import scorer


def test_scores_equal_the_two_steps_called_directly_and_carry_no_gradient() -> None:
    torch.manual_seed(0)
    encode, items = torch.nn.Linear(4, 3), torch.randn(6, 3)
    with use_precision("float32"):  # exact equality is the point
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


@pytest.mark.parametrize("precision", ["bf16", "float32"])
def test_the_encoding_runs_in_the_precision_in_force_when_the_scorer_was_made_and_scores_in_float32(
    precision: str,
) -> None:
    seen: dict[str, object] = {}

    def encode(histories: torch.Tensor) -> torch.Tensor:
        seen["encode"] = torch.is_autocast_enabled("cpu")
        return torch.nn.functional.linear(histories, torch.eye(3))

    def score(users: torch.Tensor) -> torch.Tensor:
        seen["score"], seen["users"] = torch.is_autocast_enabled("cpu"), users.dtype
        return users @ torch.ones(3, 5)

    with use_precision(precision):
        run = scorer(encode, score, torch.device("cpu"))
    with use_precision("float32" if precision == "bf16" else "bf16"):  # called under another: no matter
        out = run(torch.ones(2, 3))
    assert seen == {"encode": precision == "bf16", "score": False, "users": torch.float32}
    assert out.dtype == torch.float32


def test_auto_ranks_in_float32_on_a_cpu_even_where_training_uses_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """So validation, test, evaluate, recommend, serve and export score a model alike on every CPU."""
    from recgraft.engine import device

    monkeypatch.setattr(device, "cpu_supports_bf16", lambda: True)
    seen = []

    def encode(histories: torch.Tensor) -> torch.Tensor:
        seen.append(torch.is_autocast_enabled("cpu"))
        return histories

    with use_precision("auto"):
        assert device.resolve_precision(torch.device("cpu")) == "bf16"  # the training steps
        scorer(encode, lambda users: users, torch.device("cpu"))(torch.ones(1, 2))
    assert seen == [False]
