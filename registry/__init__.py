"""The checkpoint registry: records, lineage and a content-addressed checkpoint store.

It knows nothing of models (it imports neither torch nor the rest of recgraft): it stores
checkpoint bytes (safetensors) and their records::

    from recgraft.registry import Registry

    reg = Registry.open()                       # $RECGRAFT_HOME/registry.db by default
    rec = reg.register("ml-1m-transformer", data, domain="ml-1m", encoder="transformer",
                       encoder_config={"d": 64})
    reg.read_bytes("ml-1m-transformer@1")       # verified by sha256

A team shares one registry: ``Registry.open("postgresql://user:pw@host/registry",
store="s3://bucket/checkpoints")`` (extras ``postgres`` and ``storage``).
"""

from __future__ import annotations

from recgraft.registry.checkpoint_format import CheckpointHeader, inspect_checkpoint
from recgraft.registry.entities import AliasEvent, CheckpointRecord, FileProblem, VerifyReport
from recgraft.registry.errors import (
    BundleError,
    CheckpointIntegrityError,
    ConflictError,
    HasDescendantsError,
    InvalidCheckpointError,
    InvalidRecordError,
    InvalidReferenceError,
    NoRegistryError,
    NotFoundError,
    RegistryError,
    SchemaOutOfDateError,
)
from recgraft.registry.files import CheckpointStore, Store, open_store
from recgraft.registry.lineage import Lineage, LineageEdge, LineageNode
from recgraft.registry.references import Reference, parse_reference, validate_name
from recgraft.registry.store import Registry

__all__ = [
    "AliasEvent",
    "BundleError",
    "CheckpointHeader",
    "CheckpointIntegrityError",
    "CheckpointRecord",
    "CheckpointStore",
    "ConflictError",
    "FileProblem",
    "HasDescendantsError",
    "InvalidCheckpointError",
    "InvalidRecordError",
    "InvalidReferenceError",
    "Lineage",
    "LineageEdge",
    "LineageNode",
    "NoRegistryError",
    "NotFoundError",
    "Reference",
    "Registry",
    "RegistryError",
    "SchemaOutOfDateError",
    "Store",
    "VerifyReport",
    "inspect_checkpoint",
    "open_store",
    "parse_reference",
    "validate_name",
]
