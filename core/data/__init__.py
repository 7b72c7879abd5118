"""The data layer: domains, loaders, filters, splits, synthetic data and statistics (no torch)."""

from __future__ import annotations

from recgraft.data.domain import PAD, Domain, Vocabulary, domain_from_tokens
from recgraft.data.filters import k_core, keep_positive
from recgraft.data.loader import DatasetLoader, DatasetLoaderConfig, detect_format, load_domain
from recgraft.data.split import (
    LeaveOneOutSplit,
    RatioSplit,
    Sequences,
    Split,
    SplitSpec,
    keep_train_fraction,
    leave_one_out,
    make_split,
    parse_split,
    ratio_split,
    temporal_split,
)
from recgraft.data.stats import domain_stats
from recgraft.data.synthetic import synthetic_domains
from recgraft.data.vectors import read_vector_file, with_item_vectors

__all__ = [
    "read_vector_file",
    "with_item_vectors",
    "PAD",
    "DatasetLoader",
    "DatasetLoaderConfig",
    "Domain",
    "LeaveOneOutSplit",
    "RatioSplit",
    "Sequences",
    "Split",
    "SplitSpec",
    "Vocabulary",
    "detect_format",
    "domain_from_tokens",
    "domain_stats",
    "k_core",
    "keep_positive",
    "keep_train_fraction",
    "leave_one_out",
    "load_domain",
    "make_split",
    "parse_split",
    "ratio_split",
    "synthetic_domains",
    "temporal_split",
]
