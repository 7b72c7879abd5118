"""The typed exceptions of recgraft's API; the CLI turns each into a one-line message and exit code 2."""

from __future__ import annotations


class RecgraftError(Exception):
    """Base class of every error a user can cause: bad input, bad config, unknown names."""


class PluginError(RecgraftError):
    """A plugin could not be imported or failed while registering its components."""


class UnknownComponentError(RecgraftError, LookupError):
    """No component of that kind is registered under that name."""


class MissingPluginError(UnknownComponentError):
    """A checkpoint needs a component no loaded plugin provides; the message names the plugin
    distribution (and version) it was written with, and how to install it."""


class DuplicateComponentError(RecgraftError):
    """Two plugins registered a component of the same kind under the same name."""


class ConfigError(RecgraftError, ValueError):
    """A component's configuration is invalid (unknown field, wrong type, out of range)."""


class DataError(RecgraftError, ValueError):
    """Input data is malformed: missing columns, unparsable lines, unknown format, empty file."""


class TrainingDivergedError(RecgraftError, ArithmeticError):
    """The training loss became NaN or infinite: the run stops instead of registering garbage."""


class ResumeStateError(RecgraftError):
    """A resume file is corrupt, truncated or from another run; it names the file."""


class RunInUseError(RecgraftError):
    """Another live process is training the same run (it holds the run's resume lock)."""
