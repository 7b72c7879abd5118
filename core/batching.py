"""Kept for plugins written before :mod:`recgraft.engine`: ``NextItemExamples`` lives there now."""

from recgraft.engine.batching import NextItemExamples

__all__ = ["NextItemExamples"]
