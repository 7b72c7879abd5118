"""Item alignment: by token and by an item column; aligned items inherit their pretrained rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recgraft.data.domain import Vocabulary
from recgraft.errors import ConfigError
from recgraft.transfer import SourceModel, Transfer
from recgraft.transfer.alignment import align_items


def test_token_alignment_maps_shared_items_and_reports_the_overlap() -> None:
    source = Vocabulary.from_tokens(["a", "b", "c"])
    target = Vocabulary.from_tokens(["c", "new", "a"])
    alignment = align_items(source, target)
    assert alignment.source_rows.tolist() == [0, 3, -1, 1]
    assert alignment.report() == {"on": "token", "matched": 2, "target_items": 3, "source_items": 3,
                                  "share": 0.6667, "new_items": 1, "ambiguous": 0}
    assert alignment.target_of_source().tolist() == [0, 3, 0, 1]


def test_column_alignment_ignores_blanks_and_counts_ambiguous_keys() -> None:
    source = Vocabulary.from_tokens(["s1", "s2", "s3"])
    target = Vocabulary.from_tokens(["t1", "t2", "t3"])
    alignment = align_items(
        source, target, "title",
        source_keys=np.array(["", "Heat", "Alien", "Heat"], dtype=object),
        target_keys=np.array(["", "Heat", "", "Brazil"], dtype=object),
    )
    assert alignment.source_rows.tolist() == [0, 1, -1, -1]  # the first "Heat" wins
    assert alignment.ambiguous == 1 and alignment.on == "title"


def test_transfer_grows_the_table_and_aligned_rows_keep_their_pretrained_vectors(pretrained, target_split) -> None:
    transfer = Transfer.from_pretrained(pretrained, strategy="direct", align_on="title")
    result = transfer.fit(target_split, {"epochs": 1}, device="cpu")
    alignment = result.alignment
    target = target_split.domain
    assert alignment.matched == 30 and alignment.target_items == target.num_items
    table = result.model.encoder.item_vectors()
    assert table.shape[0] == target.num_items + 1
    source_table = pretrained.encoder.item_vectors().detach()
    known = np.flatnonzero(alignment.source_rows > 0)
    assert torch.equal(table[known].detach(), source_table[alignment.source_rows[known]])
    # title and token agree on synthetic data (shared items keep both)
    by_token = Transfer.from_pretrained(pretrained, strategy="direct").align(target)
    assert by_token.source_rows.tolist() == alignment.source_rows.tolist()


def test_align_on_a_missing_column_names_it(pretrained, target_split) -> None:
    with pytest.raises(ConfigError, match="no item column 'movie_title'.*title"):
        Transfer.from_pretrained(pretrained, align_on="movie_title").align(target_split.domain)
    source = SourceModel(pretrained.encoder, "transformer", pretrained.domain.items, {"genre": np.array([])})
    with pytest.raises(ConfigError, match="source checkpoint has no item column 'title' \\(it has: genre\\)"):
        Transfer(source, align_on="title").align(target_split.domain)


def test_a_checkpoint_without_item_columns_falls_back_to_tokens(pretrained, target_split) -> None:
    source = SourceModel(pretrained.encoder, "transformer", pretrained.domain.items)  # no item columns kept
    alignment = Transfer(source, align_on="title").align(target_split.domain)
    assert alignment.on == "token" and alignment.matched == 30
    assert "aligned by token instead" in alignment.report()["note"]
    with_source = Transfer(source, align_on="title", source_domain=pretrained.domain).align(target_split.domain)
    assert with_source.on == "title" and with_source.matched == 30 and with_source.note is None
