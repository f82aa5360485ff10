"""shmq: a shared-memory message queue for processes on one Linux host.

Timeouts are float seconds; None waits forever; 0 polls once. Blocking calls
release the GIL and can be interrupted by Ctrl-C (KeyboardInterrupt within
about 100 ms) without losing a message. See docs/PYTHON.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from types import TracebackType
from typing import Any, Literal, Optional, Union

from ._errors import (
    AlreadyExists as AlreadyExists,
    AlreadySettled as AlreadySettled,
    ClaimAborted as ClaimAborted,
    Closed as Closed,
    Error as Error,
    InvalidArgument as InvalidArgument,
    KeyTooLarge as KeyTooLarge,
    LeaseLost as LeaseLost,
    MessageTooLarge as MessageTooLarge,
    NoResources as NoResources,
    NotFound as NotFound,
    Overloaded as Overloaded,
    PermissionDenied as PermissionDenied,
    QueueDeleted as QueueDeleted,
    RegionCorrupt as RegionCorrupt,
    Timeout as Timeout,
    Unroutable as Unroutable,
    UsedAfterFork as UsedAfterFork,
    WriterBusy as WriterBusy,
)

Buffer = Union[bytes, bytearray, memoryview, str]
Key = Union[bytes, bytearray, memoryview, str, None]

class Queue:
    """A queue: the shared-memory region /dev/shm/shmq.<name>.

    Keeps the region mapped while it, or any Producer, Consumer, Message or
    memoryview made from it, is alive. Usable as a context manager (close()
    on exit).
    """

    @staticmethod
    def create(
        name: str,
        *,
        partitions: int = 1,
        capacity: int = 1024,
        max_message: int = 1024,
        on_full: Literal["block", "reject", "spill", "drop_oldest"] = "block",
        lease_ms: int = 30000,
        max_groups: int = 16,
        max_participants: int = 128,
        max_deliveries: int = 5,
        dlq_capacity: int = 1024,
        mode: int = 0o600,
        high_watermark_pct: int = 80,
        spill_buffer: int = 0,
        fsync: Literal["never", "batch", "always"] = "batch",
        journal: bool = False,
        retain_bytes: int = 0,
        retain_ms: int = 0,
        dedup_window_ms: int = 0,
        dedup_capacity: int = 0,
        dedup_content: bool = False,
        keyed_groups: int = 2,
        message_ttl_ms: int = 0,
        ttl_action: Literal["dlq", "drop"] = "dlq",
        delay_capacity: int = 0,
    ) -> Queue:
        """Creates a queue (options as shmq::QueueOptions). Raises InvalidArgument,
        AlreadyExists, PermissionDenied, NoResources."""
    @staticmethod
    def open(name: str) -> Queue:
        """Opens an existing queue. Raises NotFound, PermissionDenied, RegionCorrupt, ..."""
    @staticmethod
    def remove(name: str) -> None:
        """Deletes a queue; attached processes get QueueDeleted. Raises NotFound."""
    @staticmethod
    def exists(name: str) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def options(self) -> dict[str, Any]:
        """The creation options, with the names of Queue.create's keywords."""
    def producer(
        self, *, exclusive: bool = False, writer: Literal["automatic", "shared", "exclusive"] = "automatic"
    ) -> Producer:
        """Attaches a producer (an entry in the queue's lease table).

        writer: "automatic" (the default) holds every partition's writer role
        while this is the queue's only producer and sends with plain stores,
        giving a partition back when another writer needs it; "shared" always
        uses the multi-producer protocol; "exclusive" (the same as
        exclusive=True) keeps the role and makes other writers' sends fail
        with WriterBusy."""
    def consumer(
        self,
        group: str,
        *,
        kind: Literal["exclusive", "shared", "keyed"] = "shared",
        start: Literal["oldest", "latest"] = "oldest",
        max_in_flight: int = 256,
        at_most_once: bool = False,
    ) -> Consumer:
        """Joins consumer group `group` (options as shmq::ConsumerOptions)."""
    def claim(
        self, size: int, *, key: Key = None, timeout: Optional[float] = None, partition: Optional[int] = None
    ) -> Claim:
        """Zero-copy send of one message through a producer opened for this
        claim alone (about 15 us): `with q.claim(n) as buf: buf[:] = ...`
        commits on exit, aborts on an exception. For many, use Producer.claim."""
    def close(self) -> None:
        """No more producer()/consumer() from this object (raises Closed)."""
    def __enter__(self) -> Queue: ...
    def __exit__(self, *exc: object) -> None: ...

class Producer:
    """Sends messages. One thread at a time uses it (others wait their turn)."""

    def send(
        self,
        data: Buffer,
        *,
        key: Key = None,
        timeout: Optional[float] = None,
        partition: Optional[int] = None,
        dedup_id: Key = None,
        ttl: Optional[float] = None,
        delay: Optional[float] = None,
    ) -> bool:
        """Copies `data` into the queue. Same key -> same partition. A full
        partition waits up to `timeout` (on_full="block": then Timeout) or
        raises Overloaded (on_full="reject"). MessageTooLarge, KeyTooLarge,
        QueueDeleted. Returns True when the queue has a dedup window and a
        message with this dedup_id (up to 128 bytes) was published within it:
        then nothing was enqueued again. Overloaded also when the dedup table
        is full. `ttl` (seconds): the message's own TTL; the lower of it and
        the queue's message_ttl_ms applies (not delivered in time, it goes to
        the DLQ with reason "ttl", or is dropped).
        is full. delay (seconds, > 0): the message waits in the queue's delay
        store (Queue.create(delay_capacity=N)) and enters its partition then,
        never earlier; Overloaded when the store is full, InvalidArgument on a
        queue without one."""
    def send_batch(
        self,
        payloads: Iterable[Buffer],
        *,
        key: Key = None,
        timeout: Optional[float] = None,
        partition: Optional[int] = None,
    ) -> int:
        """Sends all payloads, in order, to one partition; returns how many.
        On failure raises the error with `.sent` = how many went."""
    def claim(
        self, size: int, *, key: Key = None, timeout: Optional[float] = None, partition: Optional[int] = None
    ) -> Claim:
        """Zero-copy send: `with p.claim(n) as buf: buf[:] = ...` commits on
        exit, aborts on an exception."""
    @property
    def participant_id(self) -> int: ...
    def close(self) -> None:
        """Detaches (open claims stay usable)."""
    def __enter__(self) -> Producer: ...
    def __exit__(self, *exc: object) -> None: ...

class Claim:
    """A reserved slot, not yet published."""

    @property
    def buffer(self) -> memoryview:
        """Writable view of the slot; released at commit/abort."""
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    def commit(self, used: Optional[int] = None) -> None:
        """Publishes the first `used` bytes (default all). Raises ClaimAborted."""
    def abort(self) -> None:
        """Publishes nothing; consumers skip the offset."""
    def __enter__(self) -> memoryview: ...
    def __exit__(
        self, type: Optional[type[BaseException]], value: Optional[BaseException], tb: Optional[TracebackType]
    ) -> bool: ...

class Message:
    """A delivered message, leased to this consumer until settled.

    Dropping it unsettled NACKs it (redelivered at once)."""

    @property
    def data(self) -> memoryview:
        """Read-only view into shared memory, released when the message is
        settled; afterwards this raises AlreadySettled. A buffer exported from
        it (a slice, numpy.frombuffer) stays readable but may show a later
        message's bytes: copy (bytes(msg.data)) what you keep."""
    @property
    def key(self) -> bytes: ...
    @property
    def dedup_id(self) -> bytes:
        """The dedup id it was sent with (b'' when none)."""
    @property
    def routing_key(self) -> bytes:
        """The routing key it was published with through an exchange (b'' when none)."""
    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """Its headers, (key, value) in publish order ([] when none)."""
    def header(self, key: Union[bytes, str]) -> Optional[bytes]:
        """The value of the first header named `key`, or None."""
    @property
    def attributes_malformed(self) -> bool:
        """True when the stored attribute block did not check out (a damaged
        region): no routing key or headers are shown, data is all stored bytes."""
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def deliveries(self) -> int:
        """1 on the first delivery."""
    @property
    def publish_unix_ns(self) -> int: ...
    @property
    def settled(self) -> bool: ...
    def ack(self) -> None:
        """Done with it. Raises LeaseLost (it went to another consumer) or AlreadySettled."""
    def nack(self, delay: float = 0.0) -> None:
        """Redeliver after `delay` seconds. Raises LeaseLost or AlreadySettled."""
    def extend(self, seconds: float) -> None:
        """Lease deadline = now + seconds. Raises LeaseLost or AlreadySettled."""
    def lease_held(self) -> bool:
        """True while this delivery still holds its lease."""

class Consumer:
    """A member of a consumer group. Context manager: closes on exit.

    Iterating receives forever; it stops when the queue is deleted or the
    consumer closed."""

    def receive(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The next message, or None when none came within `timeout` seconds."""
    def receive_batch(self, n: int, timeout: Optional[float] = None) -> list[Message]:
        """Waits up to `timeout` for one message, then takes up to n that are ready."""
    async def areceive(self, timeout: Optional[float] = None) -> Optional[Message]:
        """receive() for asyncio: one helper thread per process waits for all."""
    def close(self) -> None:
        """Leaves the group; unsettled messages can still be settled."""
    @property
    def closed(self) -> bool: ...
    @property
    def participant_id(self) -> int: ...
    def __enter__(self) -> Consumer: ...
    def __exit__(self, *exc: object) -> None: ...
    def __iter__(self) -> Iterator[Message]: ...
    def __next__(self) -> Message: ...
    def __aiter__(self) -> AsyncIterator[Message]: ...
    async def __anext__(self) -> Message: ...

def ack_all(messages: Iterable[Message]) -> int:
    """Acks every unsettled message (of any consumers); returns how many were
    acked (the others had lost their lease or were settled already)."""
