"""Opening fsspec filesystems by URL (the optional ``storage`` extra installs fsspec).

Kept apart from the fsspec store so that reading any store's URI
(:func:`recgraft.registry.files.base.open_uri`) needs only this, not the store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, BinaryIO

from recgraft.registry.errors import RegistryError

STORAGE_HINT = "pip install 'recgraft[storage]'"


def filesystem(url: str) -> tuple[Any, str]:
    """``(fsspec filesystem, path)`` of ``url``; bad URLs raise :class:`RegistryError`."""
    if "::" in url:
        raise RegistryError(f"chained fsspec URLs are not supported for checkpoints: {url!r}")
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise RegistryError(
            f"the checkpoint location {url!r} needs fsspec: {STORAGE_HINT}"
        ) from None
    try:
        return url_to_fs(url)
    except ImportError as exc:  # the protocol's own package, e.g. "Install s3fs to access S3"
        raise RegistryError(f"cannot use the checkpoint location {url!r}: {exc}") from None
    except ValueError as exc:  # "Protocol not known: ..."
        raise RegistryError(f"cannot use the checkpoint location {url!r}: {exc}") from None


@contextlib.contextmanager
def open_fsspec_uri(uri: str) -> Iterator[tuple[BinaryIO, int]]:
    """``(binary file, size)`` at ``uri`` (see :func:`recgraft.registry.files.base.open_uri`)."""
    fs, path = filesystem(uri)
    fs.invalidate_cache(path)
    size = int(fs.size(path))
    with fs.open(path, "rb") as handle:
        yield handle, size
