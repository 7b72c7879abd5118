"""Config files and ``--set`` overrides: anything but a table of tables is a ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from recgraft.errors import ConfigError
from recgraft.run_config import apply_overrides, read_config_file


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("run.json", '{"encoder": 3}', "section 'encoder' must be a table of settings, not a number"),
        ("run.json", '{"train": [["epochs", 1]]}', "section 'train' must be a table of settings, not a list"),
        ("run.json", '[{"encoder": {}}]', "the top level must be a table of sections .* not a list"),
        ("run.json", '"encoder"', "the top level must be a table of sections .* not a string"),
        ("run.json", "null", "the top level must be a table of sections .* not null"),
        ("run.toml", "encoder = 3", "section 'encoder' must be a table of settings, not a number"),
        ("run.toml", "train = [1, 2]", "section 'train' must be a table of settings, not a list"),
        ("run.json", "[" * 100_000, "not valid JSON"),
        ("run.toml", "[encoder]\nx = 'caf\xe9'", "not valid TOML"),
    ],
)
def test_config_file_that_is_not_a_table_of_tables_is_a_config_error(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError, match=message):
        read_config_file(path)


def test_config_file_sections_are_read(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text('{"encoder": {"embedding_dim": 8}}')
    assert read_config_file(path) == {"encoder": {"embedding_dim": 8}, "train": {}}


def _models() -> dict[str, type]:
    from pydantic import BaseModel

    class Encoder(BaseModel):
        embedding_dim: int = 8
        dropout: float = 0.1

    class Train(BaseModel):
        learning_rate: float = 0.001
        dropout: float = 0.0

    return {"encoder": Encoder, "train": Train}


@pytest.mark.parametrize("key", ["embeding_dim", "encoder.embeding_dim", "train.embedding_dim", "encodr.embedding_dim"])
def test_unknown_set_key_suggests_the_closest_section_field(key: str) -> None:
    with pytest.raises(ConfigError, match=r"did you mean encoder\.embedding_dim\?"):
        apply_overrides({}, [f"{key}=16"], _models())


def test_the_suggested_set_key_is_accepted() -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides({}, ["learning_rat=0.1"], _models())
    suggested = str(caught.value).rsplit("did you mean ", 1)[1].rstrip("?")
    assert apply_overrides({}, [f"{suggested}=0.1"], _models()) == {"train": {"learning_rate": 0.1}}


def test_a_bare_key_of_several_sections_names_each_dotted_form_and_each_works() -> None:
    with pytest.raises(ConfigError, match=r"write encoder\.dropout or train\.dropout$") as caught:
        apply_overrides({}, ["dropout=0.2"], _models())
    for choice in str(caught.value).rsplit("write ", 1)[1].split(" or "):
        section, _, field = choice.partition(".")
        assert apply_overrides({}, [f"{choice}=0.2"], _models()) == {section: {field: 0.2}}


def test_an_unknown_key_with_nothing_close_lists_every_field() -> None:
    with pytest.raises(ConfigError, match=r"the fields are encoder\.embedding_dim, encoder\.dropout, "
                                          r"train\.learning_rate, train\.dropout$"):
        apply_overrides({}, ["xyzzy=1"], _models())
