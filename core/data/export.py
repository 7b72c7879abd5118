"""Writing a domain as RecBole atomic files (``NAME.inter`` and ``NAME.item``), e.g. synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recgraft.data.domain import Domain


def write_atomic_files(domain: Domain, folder: Path) -> Path:
    """Write ``folder/NAME.inter`` (and ``NAME.item`` when there are item features); return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    inter = {
        "user_id:token": domain.users.tokens[domain.user_ids],
        "item_id:token": domain.items.tokens[domain.item_ids],
    }
    if domain.ratings is not None:
        inter["rating:float"] = domain.ratings
    inter["timestamp:float"] = domain.timestamps
    pd.DataFrame(inter).to_csv(folder / f"{domain.name}.inter", sep="\t", index=False)
    if domain.item_features:
        table = {"item_id:token": domain.items.tokens[1:]}
        for column, values in domain.item_features.items():
            kind = "float" if np.issubdtype(np.asarray(values).dtype, np.number) else "token_seq" if column == "genre" else "token"
            table[f"{column}:{kind}"] = values[1:]
        pd.DataFrame(table).to_csv(folder / f"{domain.name}.item", sep="\t", index=False)
    return folder
