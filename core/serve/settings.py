"""Settings of ``recgraft serve`` (no torch here: the CLI checks them before loading a model)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ServeSettings(BaseModel):
    """How the service batches, polls and bounds requests."""

    model_config = ConfigDict(extra="forbid")

    max_batch: int = Field(32, ge=1, description="requests scored in one forward pass; 1 turns batching off")
    max_wait_ms: float = Field(2.0, ge=0, description="how long a batch that is not full waits for more")
    poll_seconds: float = Field(10.0, gt=0, description="how often a movable reference is re-resolved")
    max_history: int = Field(5000, ge=1, description="longest history accepted (items)")
    max_k: int = Field(100, ge=1, description="largest k accepted (and never more than the catalogue)")
    max_body_bytes: int = Field(1_000_000, ge=1, description="largest request body accepted")
    device: str = "cpu"
