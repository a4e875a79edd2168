"""The exceptions objstore raises.

Every exception is an :class:`ObjstoreError` and also the built-in exception Python code
already catches for the same situation, so ``except KeyError`` around a read of a missing key
works as it does with a dict::

    ObjstoreError
    ├── NotFoundError              (KeyError)        no object under the key
    ├── InvalidKeyError            (ValueError)      the key cannot name an object
    ├── SerializationError         (ValueError)      bad UTF-8 / JSON, a value that cannot be saved
    │   └── UnserializableError    (TypeError)       an object json cannot represent
    ├── ConfigError                (ValueError)      a bad URL, option or settings file
    │   └── DisabledError                            the settings say "enabled": false
    ├── InvalidCategoryError       (ValueError)      a category name that cannot be used
    ├── NotManagedError            (ValueError)      an object the manager did not write
    ├── ClosedError                (ValueError)      the store, manager or monitor was closed
    ├── LimitExceededError                           a store limit (max_bytes, max_objects, ...)
    │   ├── QuotaExceededError                       a manager quota (category, storage, files)
    │   ├── ObjectTooLargeError                      over max_file_size_mb
    │   └── SavesRefusedError                        the monitor found the store full
    ├── PermissionDeniedError      (PermissionError) read / write / delete not allowed
    ├── ConflictError                                the key cannot be stored where it would go
    │   ├── AlreadyExistsError                       a create-only save found an object
    │   └── PreconditionError                        a compare-and-swap found another version
    └── StorageError               (OSError)         the disk or the S3 service failed
        └── CorruptError                             a stored managed object is damaged

The message is the Rust library's: it names the key and says what to do next.
"""

from __future__ import annotations

__all__ = [
    "ObjstoreError",
    "NotFoundError",
    "InvalidKeyError",
    "SerializationError",
    "UnserializableError",
    "ConfigError",
    "DisabledError",
    "InvalidCategoryError",
    "NotManagedError",
    "ClosedError",
    "LimitExceededError",
    "QuotaExceededError",
    "ObjectTooLargeError",
    "SavesRefusedError",
    "PermissionDeniedError",
    "ConflictError",
    "AlreadyExistsError",
    "PreconditionError",
    "StorageError",
    "CorruptError",
]


class ObjstoreError(Exception):
    """The base of every exception objstore raises."""


class NotFoundError(ObjstoreError, KeyError):
    """No object under the key (a ``KeyError``, as a dict would raise).

    Check with ``contains_key(key)`` (LEAN: ``ContainsKey``) before reading or deleting.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidKeyError(ObjstoreError, ValueError):
    """The key cannot name an object (empty, ``..`` segments, control characters, too long...)."""


class SerializationError(ObjstoreError, ValueError):
    """A value could not be encoded or decoded: text that is not UTF-8, JSON that does not parse."""


class UnserializableError(SerializationError, TypeError):
    """An object ``save_json`` cannot represent as JSON (a set, a custom class, NaN, a cycle)."""


class ConfigError(ObjstoreError, ValueError):
    """A store URL, an option or the manager's settings are wrong; the message says how to fix them."""


class DisabledError(ConfigError):
    """The manager's settings say ``"enabled": false``."""


class InvalidCategoryError(ObjstoreError, ValueError):
    """A category name that cannot be used (custom names are lowercase, such as ``"fx_rates"``)."""


class NotManagedError(ObjstoreError, ValueError):
    """The object under the key was not written by the manager; read it with the plain ObjectStore."""


class ClosedError(ObjstoreError, ValueError):
    """The store (or the manager or monitor over it) was closed; open a new one."""


class LimitExceededError(ObjstoreError):
    """Saving would take the store past one of its limits (``max_bytes``, ``max_objects``,
    ``max_object_bytes``). Nothing was changed."""


class QuotaExceededError(LimitExceededError):
    """Saving would take a category past its allocation, or the store past ``max_storage_gb``
    or ``max_files``. Nothing was changed."""


class ObjectTooLargeError(LimitExceededError):
    """One object is larger than ``max_file_size_mb`` (after compression)."""


class SavesRefusedError(LimitExceededError):
    """The monitor found the store full: saves are refused until space is freed; reads and
    deletes keep working."""


class PermissionDeniedError(ObjstoreError, PermissionError):
    """The store was opened without the access this operation needs (``read``, ``write``,
    ``delete``)."""


class ConflictError(ObjstoreError):
    """The key cannot be stored: another object is in the way (on disk, ``a`` cannot be both an
    object and the folder of ``a/b``), or a conditional save lost a race."""


class AlreadyExistsError(ConflictError):
    """A create-only save found an object already there."""


class PreconditionError(ConflictError):
    """A compare-and-swap save found a different version than the one it expected."""


class StorageError(ObjstoreError, OSError):
    """The disk, the operating system or the S3 service failed (or cannot be reached)."""


class CorruptError(StorageError):
    """A stored managed object is damaged (truncated, checksum mismatch)."""
