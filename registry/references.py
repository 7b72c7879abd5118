"""References: ``NAME`` (latest), ``NAME@N`` (version N) and ``NAME@ALIAS``.

Names, aliases, domains and tags share one spelling: ``[A-Za-z0-9._-]+``, starting with a
letter or digit, at most 128 characters. That rules out path separators, whitespace and
``@``. An alias may not look like a number (digits and dots: it would read as a version);
``latest`` is reserved and always means the newest live version. Versions are ASCII digits,
1 to :data:`MAX_VERSION` (the database stores a 32-bit integer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from recgraft.registry.errors import InvalidReferenceError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
VERSION_PATTERN = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() accepts '１' and '²'
NUMBER_LIKE = re.compile(r"[0-9.]+")
MAX_VERSION = 2**31 - 1
LATEST = "latest"


def validate_name(value: object, what: str = "name") -> str:
    """Return ``value`` if it is a valid name; raise :class:`InvalidReferenceError` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidReferenceError(f"invalid {what} {value!r}: it is empty")
    if "/" in value or "\\" in value:
        raise InvalidReferenceError(f"invalid {what} {value!r}: path separators are not allowed")
    if "@" in value:
        raise InvalidReferenceError(f"invalid {what} {value!r}: '@' is not allowed in a {what}")
    if value in {".", ".."} or not NAME_PATTERN.fullmatch(value):
        raise InvalidReferenceError(
            f"invalid {what} {value!r}: use letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit, at most 128 characters)"
        )
    return value


def validate_alias(value: object) -> str:
    """Return ``value`` if it can be an alias (a valid name, not number-like, not ``latest``)."""
    alias = validate_name(value, "alias")
    if NUMBER_LIKE.fullmatch(alias):
        raise InvalidReferenceError(
            f"invalid alias {alias!r}: an alias cannot be a number or look like one"
            " (versions are 1, 2, ...)"
        )
    if alias == LATEST:
        raise InvalidReferenceError(f"invalid alias {alias!r}: 'latest' is reserved")
    return alias


@dataclass(frozen=True)
class Reference:
    """A parsed reference: a name plus at most one of a version or an alias."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def parse_reference(ref: object) -> Reference:
    """Parse ``NAME``, ``NAME@N`` or ``NAME@ALIAS``; raise :class:`InvalidReferenceError`."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidReferenceError(f"invalid reference {ref!r}: it is empty")
    if ref.count("@") > 1:
        raise InvalidReferenceError(
            f"invalid reference {ref!r}: use NAME, NAME@VERSION or NAME@ALIAS"
        )
    name, sep, selector = ref.partition("@")
    validate_name(name)
    if not sep:
        return Reference(name)
    if not selector:
        raise InvalidReferenceError(f"invalid reference {ref!r}: nothing after '@'")
    if VERSION_PATTERN.fullmatch(selector):
        # Compare digit strings before int(): no huge integers, no int-to-str digit limit.
        digits = selector.lstrip("0")
        if not digits:
            raise InvalidReferenceError(f"invalid reference {ref!r}: versions start at 1")
        if len(digits) > len(str(MAX_VERSION)) or int(digits) > MAX_VERSION:
            raise InvalidReferenceError(
                f"invalid reference {ref!r}: versions go up to {MAX_VERSION}"
            )
        return Reference(name, version=int(digits))
    if selector == LATEST:
        return Reference(name)
    return Reference(name, alias=validate_alias(selector))


def format_reference(name: str, version: int) -> str:
    """The canonical reference of one version: ``name@version``."""
    return f"{name}@{version}"
