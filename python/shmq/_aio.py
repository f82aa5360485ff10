"""asyncio for shmq.Consumer: areceive() and `async for`.

All waits of a process are done by one helper thread in the extension
(docs/PYTHON.md, "asyncio"), which completes the futures on their loops.
"""

from __future__ import annotations

import asyncio
import atexit

from . import _shmq
from ._errors import Closed, QueueDeleted


def _complete(future, value, error):
    # On the loop's thread. A cancelled future drops `value`: a Message that
    # is dropped unsettled is NACKed, so it is redelivered, never lost.
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


async def areceive(self, timeout=None):
    """receive() for asyncio: the next message, or None after `timeout` seconds."""
    msg = self.receive(timeout=0)
    if msg is not None or (timeout is not None and timeout <= 0):
        return msg
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    token = _shmq._async_wait(self, future, loop, _complete, timeout)
    try:
        return await future
    finally:
        _shmq._async_cancel(token)


def _aiter(self):
    return self


async def _anext(self):
    try:
        msg = await self.areceive()
    except (QueueDeleted, Closed):
        raise StopAsyncIteration from None
    if msg is None:  # not with timeout=None; kept for safety
        raise StopAsyncIteration
    return msg


def install():
    _shmq.Consumer.areceive = areceive
    _shmq.Consumer.__aiter__ = _aiter
    _shmq.Consumer.__anext__ = _anext
    atexit.register(_shmq._async_shutdown)
