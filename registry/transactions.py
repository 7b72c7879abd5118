"""Sessions and write transactions: commit or roll back, retry races, word database errors.

One :func:`session` commits at the end of its block (or rolls back on an error; a read-only
one always rolls back), and :func:`write` runs a unit of work in a write transaction,
retrying it on lock timeouts and version races (a unique violation on a name's version,
a domain or an alias). Database errors come out as :class:`RegistryError` subclasses.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from recgraft.registry.db import describe_url
from recgraft.registry.errors import ConflictError, RegistryError

T = TypeVar("T")

MAX_ATTEMPTS = 20
_RETRYABLE_UNIQUE = (
    "checkpoints.name, checkpoints.version",
    "uq_checkpoints_name_version",
    "domains.name",
    "uq_domains_name",
    "aliases.name, aliases.alias",
    "uq_aliases_name_alias",
)


def name_lock(name: str) -> str:
    """The lock writers of one checkpoint name take turns on (see :func:`db.lock_until_commit`)."""
    return f"recgraft.registry.name:{name}"


def retryable(exc: SQLAlchemyError) -> bool:
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc)
    if isinstance(exc, IntegrityError):
        return any(token in message for token in _RETRYABLE_UNIQUE)
    if isinstance(exc, OperationalError):
        lowered = message.lower()
        return "locked" in lowered or "busy" in lowered or "could not serialize" in lowered
    return "could not serialize" in message.lower() or "deadlock" in message.lower()


def translate_open(exc: SQLAlchemyError, url: str) -> RegistryError:
    """An error opening the database, naming it (its password hidden)."""
    if isinstance(exc, OperationalError | InterfaceError):
        orig = getattr(exc, "orig", None)
        message = " ".join(str(orig if orig is not None else exc).split())
        return RegistryError(f"cannot open the registry database {describe_url(url)}: {message}")
    return translate(exc)


def translate(exc: SQLAlchemyError) -> RegistryError:
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc).splitlines()[0]
    if isinstance(exc, IntegrityError):
        return ConflictError(f"the registry refused the change: {message}")
    return RegistryError(f"registry database error: {message}")


@contextlib.contextmanager
def session(bind: Engine, read_only: bool) -> Iterator[Session]:
    """A session on ``bind`` that commits at the end (read-only: rolls back), or rolls back
    on an error; SQLAlchemy's errors pass through untranslated."""
    opened = Session(bind=bind, expire_on_commit=False)
    try:
        yield opened
        if read_only:
            opened.rollback()
        else:
            opened.commit()
    except BaseException:
        opened.rollback()
        raise
    finally:
        opened.close()


def write(engine: Engine, work: Callable[[Session], T]) -> T:
    """Run ``work`` in a write transaction, retrying on lock timeouts and version races."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            with session(engine, read_only=False) as opened:
                return work(opened)
        except SQLAlchemyError as exc:
            if not retryable(exc) or attempt == MAX_ATTEMPTS - 1:
                raise translate(exc) from exc
            time.sleep(min(0.5, 0.005 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")  # pragma: no cover
