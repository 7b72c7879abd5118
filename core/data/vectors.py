"""Dense item vectors computed elsewhere (sentence or image embeddings) as an item-feature column.

A vector file maps item tokens to vectors: ``.npz`` with arrays ``items`` (tokens) and
``vectors`` (N, d), or ``.parquet`` with an ``item_id`` column and either a ``vector``
column of lists or one numeric column per dimension. The column (named after the file,
``title-minilm.npz`` -> ``title-minilm``) holds one vector per item id, zeros where the file
has none, and the ``vectors`` item feature reads it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recgraft.data.domain import Domain
from recgraft.errors import DataError


def read_vector_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(tokens (N,), vectors (N, d) float32) of a vector file; DataError naming it when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such vector file")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                if "items" not in data or "vectors" not in data:
                    raise DataError(f"{path}: a .npz vector file holds arrays 'items' and 'vectors' "
                                    f"(it has: {', '.join(data.files) or 'none'})")
                tokens, vectors = data["items"].astype(str).astype(object), data["vectors"]
        elif path.suffix in (".parquet", ".pq"):
            import pandas as pd

            frame = pd.read_parquet(path)
            if "item_id" not in frame:
                raise DataError(f"{path}: a Parquet vector file needs an 'item_id' column")
            tokens = frame.pop("item_id").astype(str).to_numpy(dtype=object)
            vectors = (np.stack(frame["vector"].to_numpy()) if list(frame.columns) == ["vector"]
                       else frame.to_numpy())
        else:
            raise DataError(f"{path}: vector files are .npz or .parquet")
    except DataError:
        raise
    except Exception as exc:  # a corrupt archive or table, a missing Parquet engine
        raise DataError(f"{path}: cannot read vectors: {' '.join(str(exc).split()) or type(exc).__name__}") from None
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(vectors) != len(tokens) or vectors.dtype.kind not in "fiu":
        raise DataError(f"{path}: expected one numeric vector per item, got {len(tokens)} items and an array of "
                        f"shape {list(vectors.shape)}")
    if not np.isfinite(vectors).all():
        raise DataError(f"{path}: vectors must be finite numbers")
    return tokens, vectors.astype(np.float32)


def with_item_vectors(domain: Domain, paths: Sequence[Path]) -> Domain:
    """``domain`` with one item-feature column per vector file, named after the file's stem."""
    if not paths:
        return domain
    features = dict(domain.item_features)
    for path in paths:
        tokens, vectors = read_vector_file(Path(path))
        column = np.zeros((len(domain.items), vectors.shape[1]), dtype=np.float32)
        ids = domain.items.lookup(tokens)
        column[ids[ids > 0]] = vectors[ids > 0]
        column[0] = 0
        features[Path(path).stem] = column
    return dataclasses.replace(domain, item_features=features)
