"""Every built-in encoder honours the encoder contract (a table of toy-sized cases)."""

from __future__ import annotations

import pytest
import torch

from recgraft.objective import next_item_loss
from recgraft.plugin_manager import catalog
from recgraft.pretrain import build_encoder, pretrain

TOY = {
    "transformer": {"embedding_dim": 16, "num_heads": 2, "max_length": 12},
    "lstm": {"embedding_dim": 16, "hidden_dim": 24, "max_length": 12},
    "gan": {"embedding_dim": 16, "hidden_dim": 24, "max_length": 12},
}
NUM_ITEMS = 30


@pytest.fixture(params=sorted(TOY))
def name(request) -> str:
    return request.param


def history(batch: int = 4, length: int = 12, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    items = torch.randint(1, NUM_ITEMS + 1, (batch, length), generator=generator)
    items[0, :5] = 0  # a short, left-padded history
    return items


def test_user_vectors_and_scores_have_the_documented_shapes(name: str) -> None:
    encoder = build_encoder(name, TOY[name], NUM_ITEMS).eval()
    users = encoder(history())
    dim = encoder.output_dim  # the embedding size (the GAN adds a bias column)
    assert dim in (16, 17)
    assert users.shape == (4, dim)
    assert encoder.item_vectors().shape == (NUM_ITEMS + 1, dim)
    assert encoder.score_items(users).shape == (4, NUM_ITEMS + 1)
    assert encoder.sequence_output(history()).shape == (4, 12, dim)


def test_hidden_layers_are_named_and_batched(name: str) -> None:
    encoder = build_encoder(name, TOY[name], NUM_ITEMS).eval()
    layers = encoder.hidden_layers(history())
    assert "output" in layers and len(layers) >= 2
    assert all(t.shape[0] == 4 for t in layers.values())
    assert encoder.layer_names() == list(layers)


def test_parameter_count_is_reported(name: str) -> None:
    encoder = build_encoder(name, TOY[name], NUM_ITEMS)
    assert encoder.num_parameters() == sum(p.numel() for p in encoder.parameters()) > 0


def test_later_items_never_change_earlier_outputs(name: str) -> None:
    encoder = build_encoder(name, TOY[name], NUM_ITEMS).eval()
    before = history()
    after = before.clone()
    after[:, -1] = (after[:, -1] % NUM_ITEMS) + 1
    with torch.no_grad():
        a, b = encoder.sequence_output(before), encoder.sequence_output(after)
    torch.testing.assert_close(a[:, :-1], b[:, :-1])
    assert not torch.allclose(a[:, -1], b[:, -1])


def test_forward_is_the_last_sequence_output(name: str) -> None:
    encoder = build_encoder(name, TOY[name], NUM_ITEMS).eval()
    with torch.no_grad():
        torch.testing.assert_close(encoder(history()), encoder.sequence_output(history())[:, -1])


def test_padding_invariant_encoders_ignore_extra_left_padding(name: str) -> None:
    encoder = build_encoder(name, TOY[name], NUM_ITEMS).eval()
    if not encoder.padding_invariant:
        pytest.skip(f"{name} does not claim padding invariance")
    short = history()[:, -8:]
    padded = torch.cat([torch.zeros(4, 4, dtype=torch.long), short], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(encoder(short), encoder(padded))


def test_padding_invariant_encoders_keep_every_position_under_extra_left_padding(name: str) -> None:
    encoder = build_encoder(name, TOY[name], NUM_ITEMS).eval()
    if not encoder.padding_invariant:
        pytest.skip(f"{name} does not claim padding invariance")
    short = history()[:, -8:]
    short[0, :5] = 0  # one row already padded inside the window
    padded = torch.cat([torch.zeros(4, 4, dtype=torch.long), short], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(encoder.sequence_output(short), encoder.sequence_output(padded)[:, 4:])


def test_unknown_config_field_is_refused_before_building(name: str) -> None:
    from recgraft.errors import ConfigError

    with pytest.raises(ConfigError, match=f"encoder '{name}': hidden_size"):
        build_encoder(name, {"hidden_size": 3}, NUM_ITEMS)


def test_a_few_steps_reduce_the_loss(name: str, small_split) -> None:
    torch.manual_seed(0)
    num_items = small_split.domain.num_items
    encoder = build_encoder(name, TOY[name], num_items)
    from recgraft.batching import next_item_examples

    examples = next_item_examples(small_split.train, small_split.train_users, 12)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=5e-3)
    batch_in, batch_out = examples.inputs[:256], examples.targets[:256]
    with torch.no_grad():
        first = float(next_item_loss(encoder, batch_in, batch_out))
    for _ in range(30):
        optimizer.zero_grad()
        next_item_loss(encoder, batch_in, batch_out).backward()
        optimizer.step()
    with torch.no_grad():
        last = float(next_item_loss(encoder, batch_in, batch_out))
    assert last < first * 0.9


def test_same_seed_gives_the_same_weights_on_cpu(name: str, small_split) -> None:
    runs = [
        pretrain(small_split, name, TOY[name], {"epochs": 1, "batch_size": 64, "seed": 3}, device="cpu")
        for _ in range(2)
    ]
    for (key, a), (_, b) in zip(runs[0].encoder.state_dict().items(), runs[1].encoder.state_dict().items(), strict=False):
        assert torch.equal(a, b), key


def test_resize_items_keeps_mapped_rows_and_grows_the_table(name: str) -> None:
    encoder = build_encoder(name, TOY[name], NUM_ITEMS)
    old = encoder.item_vectors().detach().clone()
    source_rows = torch.full((41,), -1, dtype=torch.long)
    source_rows[0] = 0
    source_rows[1:11] = torch.arange(21, 31)  # new items 1..10 are old items 21..30
    encoder.resize_items(40, source_rows)
    new = encoder.item_vectors().detach()
    assert new.shape[0] == 41 and encoder.num_items == 40
    torch.testing.assert_close(new[1:11], old[21:31])


def test_resize_items_starts_new_items_as_the_average_inherited_item(name: str) -> None:
    encoder = build_encoder(name, TOY[name], NUM_ITEMS)
    old = encoder.item_vectors().detach().clone()
    source_rows = torch.full((41,), -1, dtype=torch.long)
    source_rows[0] = 0
    source_rows[1:11] = torch.arange(21, 31)
    encoder.resize_items(40, source_rows)
    new = encoder.item_vectors().detach()
    torch.testing.assert_close(new[11:], old[21:31].mean(0).expand(30, -1))


def test_registered_in_the_catalogue() -> None:
    assert {"transformer", "lstm", "gan"} <= set(catalog().names("encoder"))
