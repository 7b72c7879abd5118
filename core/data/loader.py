"""Dataset loaders (the ``dataset`` component kind) and :func:`load_domain`, the API entry.

A loader is a class with a pydantic ``Config``, a ``detect`` classmethod that says whether
it reads a path, and ``load(path, name)`` returning a :class:`~recgraft.data.domain.Domain`.
Plugins register loaders through ``register_datasets``; the built-ins are ``csv``,
``atomic`` (RecBole atomic files) and ``movielens``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator

from recgraft.components import Component, ComponentConfig
from recgraft.data.domain import Domain
from recgraft.errors import DataError, DuplicateComponentError, UnknownComponentError


def _text_encoding(name: str) -> str:
    """``name`` when Python can decode text files with it (so a typo fails at validation)."""
    try:
        "".encode(name)
    except LookupError as exc:
        raise ValueError(str(exc)) from None
    return name


#: A loader's ``encoding`` option: a text encoding Python knows (``utf-8``, ``latin-1``, ...).
Encoding = Annotated[str, AfterValidator(_text_encoding)]


class DatasetLoaderConfig(ComponentConfig):
    """Options common to every loader (none yet); loaders subclass it."""


class DatasetLoader(Component):
    """Base class of data format loaders."""

    Config: ClassVar[type[ComponentConfig]] = DatasetLoaderConfig

    def __init__(self, config: ComponentConfig | None = None) -> None:
        self.config: Any = config if config is not None else self.Config()

    @classmethod
    def detect(cls, path: Path) -> bool:
        """Whether this loader reads ``path`` (a file or a folder); cheap, never raises."""
        return False

    def load(self, path: Path, name: str | None = None) -> Domain:
        """Read ``path`` into a domain named ``name`` (default: from the path); DataError on bad input."""
        raise NotImplementedError


def detect_format(path: Path) -> str:
    """The name of the first registered loader (by name) that detects ``path``; DataError naming both
    plugins (and the fix) when it is a format two plugins register."""
    from recgraft.plugin_manager import catalog

    cat = catalog()
    for entry in cat.entries("dataset"):
        try:
            loader = entry.load()
            detected = loader.detect(path)
        except KeyboardInterrupt:
            raise
        except BaseException:  # a third-party detect() must not break the others, sys.exit included
            continue
        if detected and entry.conflicts:  # not skipped silently: the data is of a clashing format
            raise DataError(f"{path}: data format: {cat.clash('dataset', entry.name)}")
        if detected:
            return entry.name
    known = ", ".join(cat.names("dataset")) or "none"
    raise DataError(f"{path}: cannot tell the data format; pass one of: {known}")


def load_domain(
    path: str | Path, format: str | None = None, name: str | None = None, **options: Any
) -> Domain:
    """Load a domain from ``path``.

    Args:
        path: a file or folder.
        format: a registered loader name (``csv``, ``atomic``, ``movielens``, ...); detected when None.
        name: the domain's name (default: derived from the path).
        **options: the loader's Config fields (e.g. ``user="uid"`` for csv).

    Raises:
        DataError: the path does not exist, the format is unknown or the data is malformed.
        ConfigError: an option is unknown or invalid (the message names it).
    """
    from recgraft.plugin_manager import catalog

    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if format is None:
        format = detect_format(path)
    cat = catalog()
    try:
        loader_class = cat.get("dataset", format)
    except (UnknownComponentError, DuplicateComponentError) as exc:
        raise DataError(f"data format: {exc}") from None
    config = cat.config("dataset", format, options)
    loader = loader_class(config)
    return loader.load(path, name)
