from __future__ import annotations

import pytest

from recgraft.registry import InvalidReferenceError, parse_reference
from recgraft.registry.references import Reference, validate_alias, validate_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ml-1m-transformer", Reference("ml-1m-transformer")),
        ("ml-1m-transformer@3", Reference("ml-1m-transformer", version=3)),
        ("ml-1m-transformer@prod", Reference("ml-1m-transformer", alias="prod")),
        ("a.b_c-D9@v2", Reference("a.b_c-D9", alias="v2")),
        ("x@latest", Reference("x")),
    ],
)
def test_parses_valid_references(text: str, expected: Reference) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "a/b",
        "a\\b",
        "../x",
        "x@",
        "@1",
        "x@1@2",
        "x@0",
        "x y",
        "x@a/b",
        ".",
        "-x",
        "é",
        "x" * 200,
    ],
)
def test_rejects_bad_references(text: str) -> None:
    with pytest.raises(InvalidReferenceError):
        parse_reference(text)


def test_error_names_the_problem() -> None:
    with pytest.raises(InvalidReferenceError, match="path separators"):
        parse_reference("data/model")
    with pytest.raises(InvalidReferenceError, match="empty"):
        validate_name("")


@pytest.mark.parametrize("alias", ["12", "latest", "a@b", ""])
def test_rejects_bad_aliases(alias: str) -> None:
    with pytest.raises(InvalidReferenceError):
        validate_alias(alias)


def test_reference_str_round_trips() -> None:
    for text in ("a", "a@2", "a@prod"):
        assert str(parse_reference(text)) == text


@pytest.mark.parametrize(
    "text", ["x@99999999999999999999", "x@2147483648", "x@" + "9" * 5000, "x@00000000000000000000"]
)
def test_rejects_versions_beyond_the_database_range(text: str) -> None:
    with pytest.raises(InvalidReferenceError):
        parse_reference(text)


def test_largest_version_parses() -> None:
    assert parse_reference("x@2147483647").version == 2**31 - 1
    assert parse_reference("x@007").version == 7


@pytest.mark.parametrize("text", ["x@１", "x@²", "x@٣", "x@1１"])
def test_versions_are_ascii_digits_only(text: str) -> None:
    with pytest.raises(InvalidReferenceError):
        parse_reference(text)


@pytest.mark.parametrize("text", ["x@1.5", "x@1.", "x@.1"])
def test_rejects_aliases_that_look_like_numbers(text: str) -> None:
    with pytest.raises(InvalidReferenceError, match="alias"):
        parse_reference(text)
