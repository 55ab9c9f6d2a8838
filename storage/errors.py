"""Errors raised by the storage layer; each message says what is wrong and how to fix it."""

from __future__ import annotations


class StorageError(Exception):
    """Base class for storage errors."""


class StoreLockedError(StorageError):
    """The database file is held by another process."""


class SchemaTooNewError(StorageError):
    """The database was written by a newer Vigil than this one."""


class WriteQueueFullError(StorageError):
    """The writer's queue is full; the caller should retry later."""


class UnknownModelError(StorageError):
    """A model name that is not registered."""


class InvalidIdentifierError(StorageError, ValueError):
    """A model or feature name that cannot be used as an identifier."""


class SchemaConflictError(StorageError, ValueError):
    """A registration that contradicts what is stored (e.g. a feature changing type)."""
