"""The training engine: settings, the one epoch loop and its learning-rate schedules, batching,
metrics, evaluation, the one scorer, devices and precision, progress, resume files and the
memory check.

The engine knows tensors, sequences and phases, not encoders, registries or pipelines: it
imports nothing above it (see docs/architecture.md). Plugins import what they need from
here, e.g. ``from recgraft.engine import TrainConfig, NextItemExamples``.
"""

from __future__ import annotations

from recgraft.engine.batching import NextItemExamples
from recgraft.engine.config import TrainConfig
from recgraft.engine.loop import Phase, TrainResult, run_epochs

__all__ = ["NextItemExamples", "Phase", "TrainConfig", "TrainResult", "run_epochs"]
