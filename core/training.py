"""Kept for plugins written before :mod:`recgraft.engine`: ``TrainConfig`` lives there now."""

from recgraft.engine.config import TrainConfig

__all__ = ["TrainConfig"]
