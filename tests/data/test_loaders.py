from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recgraft.data.loader import detect_format, load_domain
from recgraft.errors import ConfigError, DataError
from recgraft.testing import DatasetContract


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def atomic_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    write(
        folder / "shop.inter",
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\r\n"
        "u1\tToy Story (1995)\t5\t100\r\nu1\tHeat (1995)\t3\t90\r\nu2\tHeat (1995)\t4\t50\r\n",
    )
    write(
        folder / "shop.item",
        "item_id:token\tmovie_title:token\tyear:float\tgenre:token_seq\n"
        "Toy Story (1995)\tToy Story\t1995\tAnimation Comedy\nHeat (1995)\tHeat\t\tAction\nUnused\tX\t1\tY\n",
    )
    write(folder / "shop.user", "user_id:token\tage:float\nu2\t33\n")
    return folder


def test_atomic_folder(atomic_dir: Path) -> None:
    d = load_domain(atomic_dir)
    assert d.name == "shop" and d.source == str(atomic_dir / "shop.inter")
    assert (d.num_users, d.num_items, d.num_interactions) == (2, 2, 3)
    assert d.items.tokens.tolist() == ["[PAD]", "Toy Story (1995)", "Heat (1995)"]
    assert d.item_features["movie_title"].tolist() == ["", "Toy Story", "Heat"]
    year = d.item_features["year"]
    assert year[1] == 1995 and np.isnan(year[2])
    assert d.item_features["genre"][1] == "Animation Comedy"
    assert d.ratings is not None and d.ratings.tolist() == [5, 3, 4]
    assert d.timestamps.tolist() == [100, 90, 50]
    assert np.isnan(d.user_features["age"][1]) and d.user_features["age"][2] == 33


def test_atomic_direct_file_and_name(atomic_dir: Path) -> None:
    d = load_domain(atomic_dir / "shop.inter", name="mine")
    assert d.name == "mine" and d.num_interactions == 3


def test_atomic_without_time_uses_file_order(tmp_path: Path) -> None:
    path = write(tmp_path / "x.inter", "user_id:token\titem_id:token\nu\ta\nu\tb\n")
    d = load_domain(path)
    assert d.timestamps.tolist() == [0, 1] and d.ratings is None


def test_csv_default_and_custom_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path / "events.csv",
        'userId,movieId,rating,timestamp,title\n1,10,4.5,3,"A, the"\n2,10,3,1,"A, the"\n1,11,2,2,B\n',
    )
    d = load_domain(path, item_features=["title"])
    assert d.name == "events" and (d.num_users, d.num_items) == (2, 2)
    assert d.item_features["title"].tolist() == ["", "A, the", "B"]
    assert d.ratings is not None and d.ratings.dtype == np.float32
    custom = write(
        tmp_path / "c.tsv", "who\twhat\twhen\nx\tp\t2021-01-02\ny\tq\t2021-01-01T12:00:00\n"
    )
    d2 = load_domain(custom, user="who", item="what", timestamp="when")
    assert d2.timestamps.tolist() == [1609545600.0, 1609502400.0]
    assert d2.ratings is None


def test_csv_sniffs_delimiter_and_no_time(tmp_path: Path) -> None:
    path = write(tmp_path / "data.txt", "user;item\na;x\nb;y\n")
    d = load_domain(path, format="csv")
    assert d.num_interactions == 2 and d.timestamps.tolist() == [0, 1]


def test_movielens_100k(tmp_path: Path) -> None:
    folder = tmp_path / "ml-100k"
    write(folder / "u.data", "1\t10\t5\t881250949\n2\t10\t3\t881250950\n1\t20\t4\t881250951\n")
    flags = "|".join(["0"] * 19)
    write(
        folder / "u.item",
        f"10|Café (1995)|01-Jan-1995||http://x|{flags[:-1]}1\n20|Heat (1995)|01-Jan-1995||http://y|{'|'.join(['0', '1'] + ['0'] * 17)}\n",
        encoding="latin-1",
    )
    write(folder / "u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n")
    for path in (folder, folder / "u.data"):
        assert detect_format(path) == "movielens"
        d = load_domain(path)
        assert d.name == "ml-100k"
        assert d.item_features["title"].tolist() == ["", "Café (1995)", "Heat (1995)"]
        assert d.item_features["genres"].tolist() == ["", "Western", "Action"]
        assert d.user_features["age"].tolist()[1:] == [24.0, 53.0]


def test_movielens_1m(tmp_path: Path) -> None:
    folder = tmp_path / "ml-1m"
    write(
        folder / "ratings.dat",
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978300000\n",
    )
    write(
        folder / "movies.dat",
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::Star Wars: Episode I (1999)::Action|Sci-Fi\n",
        encoding="latin-1",
    )
    d = load_domain(folder)
    assert (d.num_users, d.num_items) == (2, 2)
    assert d.item_features["title"][2] == "Star Wars: Episode I (1999)"
    assert d.item_features["genres"][2] == "Action Sci-Fi"
    assert d.ratings is not None and d.ratings.tolist() == [5, 3, 4]


def test_detection(tmp_path: Path, atomic_dir: Path) -> None:
    assert detect_format(atomic_dir) == "atomic"
    assert detect_format(write(tmp_path / "a.csv", "user,item\n1,2\n")) == "csv"
    assert detect_format(write(tmp_path / "m" / "ratings.dat", "1::2::3::4\n")) == "movielens"
    with pytest.raises(DataError, match="cannot tell the data format"):
        detect_format(write(tmp_path / "weird.bin", "x"))


def test_format_override(tmp_path: Path) -> None:
    path = write(tmp_path / "events.inter", "user,item\nu,i\n")  # looks atomic, is CSV
    with pytest.raises(DataError):
        load_domain(path)  # atomic: a one-column header with an unknown type
    d = load_domain(path, format="csv", delimiter=",")
    assert d.num_interactions == 1


def test_options_validated(tmp_path: Path, atomic_dir: Path) -> None:
    with pytest.raises(ConfigError, match="user_column"):
        load_domain(atomic_dir, user_column="x")
    with pytest.raises(ConfigError, match="load_item_features"):
        load_domain(atomic_dir, load_item_features="maybe")
    assert load_domain(atomic_dir, load_item_features=False).item_features == {}


def test_unknown_format_and_missing_path(tmp_path: Path, atomic_dir: Path) -> None:
    with pytest.raises(DataError, match="unknown dataset 'atomik'.*did you mean 'atomic'"):
        load_domain(atomic_dir, format="atomik")
    with pytest.raises(DataError, match="no such file"):
        load_domain(tmp_path / "missing.csv")


def test_csv_feature_columns_take_a_comma_separated_string(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("user,item,genre,year\nu,i,drama,1999\nv,j,comedy,2001\n")
    domain = load_domain(path, item_features="genre, year", user_features="")
    assert set(domain.item_features) == {"genre", "year"} and domain.user_features == {}
    assert list(domain.item_features["genre"][1:]) == ["drama", "comedy"]


class TestCSVContract(DatasetContract):
    component = "csv"

    def write_sample(self, folder: Path) -> Path:
        return write(folder / "events.csv", "userId,movieId,rating,timestamp\n1,10,4.5,3\n2,10,3,1\n1,11,2,2\n")


class TestAtomicContract(DatasetContract):
    component = "atomic"

    def write_sample(self, folder: Path) -> Path:
        write(folder / "shop" / "shop.inter", "user_id:token\titem_id:token\ttimestamp:float\nu1\ta\t1\nu2\tb\t2\n")
        return folder / "shop"


class TestMovieLensContract(DatasetContract):
    component = "movielens"

    def write_sample(self, folder: Path) -> Path:
        write(folder / "ml-1m" / "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978300000\n")
        return folder / "ml-1m"


def test_a_detect_that_exits_or_raises_is_skipped_and_the_others_detect(tmp_path: Path, plugins_toml) -> None:
    plugin = tmp_path / "exiting_loader.py"
    plugin.write_text(
        "import sys\n"
        "from recgraft import hookimpl\n"
        "from recgraft.data.loader import DatasetLoader\n\n"
        "class Exits(DatasetLoader):\n"
        "    @classmethod\n"
        "    def detect(cls, path):\n"
        "        sys.exit(3)\n\n"
        "class Raises(DatasetLoader):\n"
        "    @classmethod\n"
        "    def detect(cls, path):\n"
        "        raise RuntimeError('broken')\n\n"
        "@hookimpl\n"
        "def register_datasets(register):\n"
        "    register('aaa-exits', Exits)\n"
        "    register('aab-raises', Raises)\n"
    )
    plugins_toml(f'[plugins]\npaths = ["{plugin}"]\n')
    assert detect_format(write(tmp_path / "a.csv", "user,item\n1,2\n")) == "csv"


def test_data_of_a_format_two_plugins_register_is_an_error_naming_both(tmp_path: Path, plugins_toml) -> None:
    source = (
        "from recgraft import hookimpl\n"
        "from recgraft.data.loader import DatasetLoader\n\n"
        "class Pairs(DatasetLoader):\n"
        "    @classmethod\n"
        "    def detect(cls, path):\n"
        "        return path.suffix == '.pairs'\n\n"
        "@hookimpl\n"
        "def register_datasets(register):\n"
        "    register('pairs', Pairs)\n"
    )
    for name in ("pairs_one", "pairs_two"):
        (tmp_path / f"{name}.py").write_text(source)
    plugins_toml(f'[plugins]\npaths = ["{tmp_path / "pairs_one.py"}", "{tmp_path / "pairs_two.py"}"]\n')
    with pytest.raises(DataError, match="dataset 'pairs' is registered by both pairs_one and pairs_two; disable one "
                                        'in plugins.toml \\(\\[plugins\\] disable = \\["pairs_two"\\]\\)'):
        detect_format(write(tmp_path / "a.pairs", "u1 i1\n"))
