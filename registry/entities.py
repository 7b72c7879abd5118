"""What the registry hands out: pydantic models, detached from any database session."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CheckpointRecord(BaseModel):
    """One registered checkpoint: its file, how it was made, and where it came from."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    version: int
    reference: str = Field(description="name@version")
    aliases: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    domain: str
    encoder: str
    encoder_config: dict[str, Any] = Field(default_factory=dict)
    strategy: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    dataset_fingerprint: str | None = None
    digest: str = Field(description="sha256 of the file, hex")
    size: int
    uri: str
    device: str = "cpu"
    precision: str = "float32"
    torch_version: str | None = None
    recgraft_version: str | None = None
    created_at: datetime
    parents: list[tuple[str, str]] = Field(
        default_factory=list, description="(reference, relation) pairs"
    )
    extra: dict[str, Any] = Field(default_factory=dict)
    removed_at: datetime | None = None

    @property
    def removed(self) -> bool:
        return self.removed_at is not None


class AliasEvent(BaseModel):
    """One move of an alias (``from_version`` None: newly set; ``to_version`` None: dropped)."""

    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    created_at: datetime


class FileProblem(BaseModel):
    """A record whose file is missing, does not match, or is not a recgraft checkpoint."""

    reference: str
    uri: str
    problem: str  # "missing", "size mismatch", "digest mismatch" or "not a checkpoint"
    detail: str


class VerifyReport(BaseModel):
    """What ``verify`` found: records checked, bad files, and files no record points to."""

    checked: int = 0
    missing: list[FileProblem] = Field(default_factory=list)
    mismatched: list[FileProblem] = Field(default_factory=list)
    orphans: list[str] = Field(default_factory=list, description="URIs of unreferenced files")
    removed_orphans: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every record's file is intact and no orphan is left."""
        return (
            not self.missing
            and not self.mismatched
            and len(self.removed_orphans) == len(self.orphans)
        )
