"""Item representations from item features: fitting, the item table, checkpoints, new items."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from recgraft.checkpoint import from_bytes
from recgraft.checkpoint.modules import encoder_from_checkpoint
from recgraft.data.synthetic import synthetic_domains
from recgraft.errors import ConfigError
from recgraft.item_features import ItemTable, fit_item_features, item_tables
from recgraft.plugin_manager import catalog
from recgraft.pretrain import pretrain

TINY = {"embedding_dim": 8, "max_length": 8, "num_heads": 1, "num_layers": 1}


def fitted_encoder(domain, encoder: str = "transformer", **config):
    values = catalog().config("encoder", encoder, {**(TINY if encoder == "transformer" else {}), **config})
    built = catalog().build("encoder", encoder, fit_item_features(values, domain.item_features), domain.num_items)
    built.set_item_features(domain.item_features)
    return built.eval()


@pytest.fixture
def domain():
    return synthetic_domains(num_domains=1, num_users=40, num_items=30, seed=3)[0]


def test_fitting_records_the_kind_and_encoding_in_the_config(domain) -> None:
    config = fit_item_features(catalog().config("encoder", "transformer", {"item_features": ["genre", "title:text"]}),
                               domain.item_features)
    genre, title = config.item_features
    assert (genre.kind, title.kind) == ("tokens", "text")
    assert sorted(genre.state["vocabulary"]) == sorted(set(domain.item_features["genre"][1:]))
    assert title.state == {}


def test_an_item_vector_follows_its_features(domain) -> None:
    encoder = fitted_encoder(domain, item_features=["genre"], item_ids=False)
    genres = domain.item_features["genre"]
    same = [i for i in range(2, len(genres)) if genres[i] == genres[1]][0]
    other = [i for i in range(2, len(genres)) if genres[i] != genres[1]][0]
    table = encoder.item_vectors()
    assert torch.equal(table[1], table[same])
    assert not torch.equal(table[1], table[other])
    assert torch.count_nonzero(table[0]) == 0  # the pad


def test_new_features_change_a_new_items_vector_and_scores(domain) -> None:
    encoder = fitted_encoder(domain, item_features=["genre"])
    before = encoder.item_vectors().clone()
    scores = encoder.score_items(encoder(torch.tensor([[1, 2, 3]])))
    features = dict(domain.item_features)
    genres = features["genre"].copy()
    genres[5] = next(g for g in genres[1:] if g != genres[5])
    encoder.set_item_features({**features, "genre": genres})
    after = encoder.item_vectors()
    changed = (after != before).any(dim=1)
    assert changed[5] and int(changed.sum()) == 1
    assert encoder.score_items(encoder(torch.tensor([[1, 2, 3]])))[0, 5] != scores[0, 5]


def test_a_missing_feature_column_is_a_config_error_naming_it(domain) -> None:
    with pytest.raises(ConfigError, match="item feature 'colour'.*no item column 'colour'.*genre"):
        fit_item_features(catalog().config("encoder", "transformer", {"item_features": ["colour"]}),
                          domain.item_features)


def test_an_unfitted_feature_cannot_build_an_item_table() -> None:
    config = catalog().config("encoder", "transformer", {"item_features": ["genre"]})
    with pytest.raises(ConfigError, match="not fitted"):
        catalog().build("encoder", "transformer", config, 10)


def test_items_need_ids_or_features() -> None:
    with pytest.raises(ConfigError, match="no vector"):
        ItemTable(5, 4, [], ids=False)


@pytest.mark.parametrize("encoder", ["transformer", "lstm", "gan", "bpr"])
def test_every_built_in_encoder_pretrains_with_item_features_and_round_trips_bit_for_bit(domain, encoder) -> None:
    small = {"embedding_dim": 8, "max_length": 8}
    config = {**small, **({"num_heads": 1} if encoder == "transformer" else {}),
              **({"hidden_dim": 8} if encoder in ("lstm", "gan") else {}),
              "item_features": ["genre", "title:text"]}
    trained = pretrain(domain, encoder, config, {"epochs": 1, "batch_size": 16})
    assert item_tables(trained.encoder)
    contents = from_bytes(trained.to_bytes())
    loaded = encoder_from_checkpoint(contents).eval()
    trained.encoder.eval()
    assert loaded.config == trained.encoder.config
    for (key, mine), theirs in zip(trained.encoder.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(mine.cpu(), theirs), key
    assert torch.equal(loaded.item_vectors(), trained.encoder.item_vectors().cpu())


def test_id_dropout_drops_id_rows_in_training_only(domain) -> None:
    encoder = fitted_encoder(domain, item_features=["genre"], item_id_dropout=0.5)
    torch.manual_seed(0)
    encoder.train()
    noisy = encoder.item_vectors()
    encoder.eval()
    assert not torch.equal(noisy, encoder.item_vectors())
    assert torch.equal(encoder.item_vectors(), encoder.item_vectors())


def test_resizing_keeps_mapped_items_and_new_ones_take_their_features(domain) -> None:
    encoder = fitted_encoder(domain, item_features=["genre"])
    before = encoder.item_vectors().detach().clone()
    rows = torch.tensor([0, 2, -1, 1])  # new item 1 <- old 2, new item 2 is new, new item 3 <- old 1
    encoder.resize_items(3, rows)
    genres = domain.item_features["genre"]
    encoder.set_item_features({"genre": np.array(["", genres[2], genres[4], genres[1]], dtype=object)})
    after = encoder.item_vectors()
    assert after.shape[0] == 4
    assert torch.allclose(after[1], before[2]) and torch.allclose(after[3], before[1])
    ids = item_tables(encoder)[0].ids
    assert ids is not None
    average = ids.weight[1:].detach().mean(0)  # a new item: the average id row plus its features
    feature = item_tables(encoder)[0].features[0](item_tables(encoder)[0].feature_inputs()[0][2:3])[0]
    assert torch.allclose(after[2], average + feature, atol=1e-6)


def test_baselines_take_no_item_features(domain) -> None:
    config = fit_item_features(catalog().config("encoder", "ease", {"item_features": ["genre"]}), domain.item_features)
    with pytest.raises(ConfigError, match="takes no item_features"):
        catalog().build("encoder", "ease", config, domain.num_items)


def test_a_vectors_column_is_fitted_from_its_width(domain) -> None:
    vectors = np.random.default_rng(0).normal(size=(len(domain.items), 5)).astype(np.float32)
    with_vectors = dataclasses.replace(domain, item_features={**domain.item_features, "emb": vectors})
    encoder = fitted_encoder(with_vectors, item_features=["emb"], item_ids=False)
    spec = encoder.config.item_features[0]
    assert (spec.kind, spec.state) == ("vectors", {"dim": 5})
    assert encoder.item_vectors().shape == (len(domain.items), 8)


def test_with_nothing_aligned_a_new_item_is_its_features(domain) -> None:
    encoder = fitted_encoder(domain, item_features=["genre"])
    encoder.resize_items(domain.num_items, torch.full((domain.num_items + 1,), -1).index_fill(0, torch.tensor([0]), 0))
    encoder.set_item_features(domain.item_features)
    table = item_tables(encoder)[0]
    assert table.ids is not None and torch.count_nonzero(table.ids.weight[1:]) == 0
    features = table.features[0](table.feature_inputs()[0])
    assert torch.allclose(encoder.item_vectors()[1:], features[1:])


def test_a_column_of_the_wrong_shape_is_a_config_error(domain) -> None:
    encoder = fitted_encoder(domain, item_features=["genre"])
    with pytest.raises(ConfigError, match="reads a value per item, the column has shape"):
        encoder.set_item_features({"genre": np.zeros((len(domain.items), 3))})


def test_a_checkpoint_records_the_plugins_of_its_item_features(domain) -> None:
    trained = pretrain(domain, "transformer", {**TINY, "item_features": ["genre"]}, {"epochs": 1})
    spec = from_bytes(trained.to_bytes()).metadata["components"]["encoder"]
    assert spec["item_features"] == [{"name": "tokens", "plugin": "recgraft.plugins.item_features",
                                      "distribution": "recgraft", "version": spec["version"]}]


def test_a_checkpoint_whose_item_feature_plugin_is_missing_names_the_distribution() -> None:
    from recgraft.errors import MissingPluginError
    from recgraft.provenance import check_components

    metadata = {"components": {"encoder": {
        "name": "transformer", "config": {},
        "item_features": [{"name": "sentence", "plugin": "acme_features", "distribution": "acme-features",
                           "version": "1.2"}]}}}
    with pytest.raises(MissingPluginError, match="acme-features"):
        check_components(metadata)
