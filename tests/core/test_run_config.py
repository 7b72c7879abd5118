"""Config files and ``--set`` overrides: anything but a table of tables is a ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from recgraft.errors import ConfigError
from recgraft.run_config import read_config_file


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
