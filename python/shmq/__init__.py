"""shmq: a shared-memory message queue for processes on one Linux host.

    import shmq
    q = shmq.Queue.open("photos")
    with q.consumer("resizers", kind="shared") as c:
        for msg in c:
            handle(msg.data); msg.ack()

See docs/PYTHON.md and the stub file __init__.pyi for the whole API.
"""

from ._errors import (
    AlreadyExists,
    AlreadySettled,
    ClaimAborted,
    Closed,
    Error,
    InvalidArgument,
    KeyTooLarge,
    LeaseLost,
    MessageTooLarge,
    NoResources,
    NotFound,
    Overloaded,
    PermissionDenied,
    QueueDeleted,
    RegionCorrupt,
    Timeout,
    Unroutable,
    UsedAfterFork,
    WriterBusy,
)
from ._shmq import Claim, Consumer, Message, Producer, Queue, ack_all
from . import _aio

_aio.install()
del _aio


def _queue_claim(self, size, *, key=None, timeout=None, partition=None):
    """Zero-copy send of one message: `with q.claim(n) as buf: buf[:] = ...`
    commits on exit and aborts on an exception. It opens a producer for this
    claim alone (about 15 us), which the claim keeps until it is settled; for
    many claims use a Producer's claim."""
    return self.producer().claim(size, key=key, timeout=timeout, partition=partition)


Queue.claim = _queue_claim
del _queue_claim

__all__ = [
    "Queue", "Producer", "Claim", "Consumer", "Message", "ack_all",
    "Error", "Timeout", "Overloaded", "MessageTooLarge", "KeyTooLarge", "LeaseLost",
    "AlreadySettled", "ClaimAborted", "QueueDeleted", "RegionCorrupt", "InvalidArgument",
    "NoResources", "NotFound", "AlreadyExists", "PermissionDenied", "WriterBusy",
    "Unroutable", "UsedAfterFork", "Closed",
]
