"""The registry's own errors.

The registry imports nothing from the rest of recgraft, so it has its own hierarchy; the CLI
turns every :class:`RegistryError` into a one-line message and exit code 2.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base class of every error the registry raises on purpose."""


class InvalidReferenceError(RegistryError, ValueError):
    """A name, alias or reference is malformed (empty, path separators, bad characters)."""


class NotFoundError(RegistryError, LookupError):
    """No checkpoint (or no live checkpoint) answers to that reference."""


class NoRegistryError(NotFoundError):
    """There is no registry there yet (a read never creates one; the first write does)."""


class CheckpointIntegrityError(RegistryError):
    """A checkpoint file is missing, or its size or sha256 differs from its record."""


class InvalidCheckpointError(RegistryError, ValueError):
    """The bytes are not a recgraft checkpoint (not safetensors, a bad header, bad metadata),
    or not the one its record describes."""


class HasDescendantsError(RegistryError):
    """A checkpoint cannot be removed because other checkpoints descend from it."""


class SchemaOutOfDateError(RegistryError):
    """The database schema is not the one this version of recgraft expects."""


class ConflictError(RegistryError):
    """A write could not be applied (a constraint failed, or retries ran out)."""


class BundleError(RegistryError):
    """A bundle file is not a valid recgraft bundle."""


class InvalidRecordError(RegistryError, ValueError):
    """A value given for a record is unusable (not JSON, empty encoder name, ...)."""


class OutputPathError(RegistryError):
    """A file cannot be written where asked: something is there already (and replacing it was
    not asked for, or it is not a regular file), or its folder cannot be made."""
