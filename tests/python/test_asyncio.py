"""asyncio: areceive and `async for`, several consumers awaiting at once on
one helper thread per process."""

import asyncio
import os
import time

import shmq


def thread_count():
    return len(os.listdir("/proc/self/task"))


def test_areceive_times_out_with_none(qname):
    q = shmq.Queue.create(qname)

    async def main():
        with q.consumer("g") as c:
            start = time.monotonic()
            assert await c.areceive(timeout=0.2) is None
            assert 0.19 <= time.monotonic() - start < 5
            assert await c.areceive(timeout=0) is None

    asyncio.run(main())


def test_many_consumers_await_at_once_on_one_helper_thread(qname):
    q = shmq.Queue.create(qname, partitions=2)
    before = thread_count()

    async def main():
        consumers = [q.consumer(f"group{i}") for i in range(6)]  # fan-out: each group gets it
        tasks = [asyncio.create_task(c.areceive(timeout=30)) for c in consumers]
        started = shmq._shmq._async_helpers_started()
        # Wait until every task sits in the helper (nothing to take yet).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and shmq._shmq._async_helpers_started() == 0:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert thread_count() <= before + 1, "more than one helper thread"
        q.producer().send(b"fan-out")
        got = await asyncio.wait_for(asyncio.gather(*tasks), 30)
        assert [bytes(m.data) for m in got] == [b"fan-out"] * 6
        assert shmq.ack_all(got) == 6
        assert shmq._shmq._async_helpers_started() <= max(started, 1)
        for c in consumers:
            c.close()

    asyncio.run(main())
    assert thread_count() <= before + 1


def test_a_cancelled_areceive_loses_no_message(qname):
    q = shmq.Queue.create(qname)

    async def main():
        with q.consumer("g") as c:
            task = asyncio.create_task(c.areceive())
            await asyncio.sleep(0.05)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            q.producer().send(b"after")
            m = await c.areceive(timeout=10)
            assert bytes(m.data) == b"after"
            m.ack()

    asyncio.run(main())


def test_async_for_stops_when_the_queue_is_deleted(qname):
    q = shmq.Queue.create(qname)

    async def main():
        c = q.consumer("g")

        async def produce():
            p = q.producer()
            for i in range(5):
                p.send(b"m%d" % i)
                await asyncio.sleep(0.01)

        producer = asyncio.create_task(produce())
        seen = []
        async for m in c:
            seen.append(bytes(m.data))
            m.ack()
            if len(seen) == 5:
                await producer
                shmq.Queue.remove(qname)
        return seen

    assert asyncio.run(asyncio.wait_for(main(), 60)) == [b"m%d" % i for i in range(5)]


def test_closing_a_consumer_ends_its_areceive_with_closed(qname):
    q = shmq.Queue.create(qname, partitions=2)

    async def main():
        c = q.consumer("g", kind="exclusive")
        task = asyncio.create_task(c.areceive())
        await asyncio.sleep(0.05)
        c.close()
        try:
            await asyncio.wait_for(task, 30)
        except shmq.Closed:
            return "closed"
        return "no error"

    assert asyncio.run(main()) == "closed"
    # The queue's waiters count went back to zero: a fresh consumer and
    # producer work as before.
    with q.consumer("g2") as c2:
        q.producer().send(b"x")
        m = c2.receive(timeout=10)
        assert bytes(m.data) == b"x"
        m.ack()


def test_awaiting_consumers_burn_no_cpu(qname):
    import resource

    q = shmq.Queue.create(qname)

    async def main():
        consumers = [q.consumer(f"g{i}") for i in range(4)]
        tasks = [asyncio.create_task(c.areceive(timeout=1.5)) for c in consumers]
        before = resource.getrusage(resource.RUSAGE_SELF)
        results = await asyncio.gather(*tasks)
        after = resource.getrusage(resource.RUSAGE_SELF)
        for c in consumers:
            c.close()
        return results, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)

    results, cpu = asyncio.run(main())
    assert results == [None] * 4
    # Measured ~1 ms for 1.5 s of waiting; a spinning helper would use ~1.5 s.
    assert cpu < 0.3, f"{cpu:.3f} s of CPU while idle"
