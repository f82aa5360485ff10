"""shmq's exceptions: one class per shmq::Errc, under shmq.Error.

The extension raises these (it imports this module when it loads); `code` is
the Errc name as the C++ library spells it (e.g. "lease_lost").
"""

from __future__ import annotations


class Error(Exception):
    """Base of every shmq error. `code` names the failure (the C++ Errc)."""

    code: str = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class Timeout(Error, TimeoutError):
    code = "timeout"


class Overloaded(Error):
    code = "overloaded"


class MessageTooLarge(Error, ValueError):
    code = "message_too_large"


class KeyTooLarge(Error, ValueError):
    code = "key_too_large"


class LeaseLost(Error):
    code = "lease_lost"


class AlreadySettled(Error):
    code = "already_settled"


class ClaimAborted(Error):
    code = "claim_aborted"


class QueueDeleted(Error):
    code = "queue_deleted"


class RegionCorrupt(Error):
    code = "region_corrupt"


class InvalidArgument(Error, ValueError):
    code = "invalid_argument"


class NoResources(Error):
    code = "no_resources"


class NotFound(Error, FileNotFoundError):
    code = "not_found"


class AlreadyExists(Error, FileExistsError):
    code = "already_exists"


class PermissionDenied(Error, PermissionError):
    code = "permission_denied"


class WriterBusy(Error):
    code = "writer_busy"


class Unroutable(Error):
    """No binding of the exchange matched and it has no alternate queue."""

    code = "unroutable"


class UsedAfterFork(Error):
    """A handle opened before fork() was used in the child (not an Errc)."""

    code = "used_after_fork"


class Closed(Error):
    """A handle was used after close() (not an Errc)."""

    code = "closed"


# Errc value (shmq.hpp) -> class; index 0 (ok) is never raised.
BY_ERRC = [
    None,
    Timeout,
    Overloaded,
    MessageTooLarge,
    KeyTooLarge,
    LeaseLost,
    AlreadySettled,
    ClaimAborted,
    QueueDeleted,
    RegionCorrupt,
    InvalidArgument,
    NoResources,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    WriterBusy,
    Unroutable,
]
