"""The synchronous API: queues, producers, claims, consumers, messages, errors."""

import gc
import threading
import time

import pytest

import shmq


def test_create_takes_queue_options_and_reports_them(qname):
    q = shmq.Queue.create(qname, partitions=2, capacity=64, max_message=256, on_full="reject", lease_ms=5000)
    o = q.options
    assert (o["partitions"], o["capacity"], o["max_message"], o["on_full"], o["lease_ms"]) == (2, 64, 256, "reject", 5000)
    assert q.name == qname
    assert shmq.Queue.exists(qname)
    assert shmq.Queue.open(qname).options == o


def test_create_errors_map_to_error_classes(qname):
    shmq.Queue.create(qname)
    with pytest.raises(shmq.AlreadyExists) as e:
        shmq.Queue.create(qname)
    assert e.value.code == "already_exists" and isinstance(e.value, FileExistsError)
    with pytest.raises(shmq.NotFound):
        shmq.Queue.open(qname + ".missing")
    with pytest.raises(shmq.InvalidArgument, match="on_full 'sometimes' is not one of"):
        shmq.Queue.create(qname + ".x", on_full="sometimes")
    with pytest.raises(shmq.InvalidArgument):
        shmq.Queue.create("bad name!")


def test_send_and_receive_round_trip_with_key_and_metadata(qname):
    q = shmq.Queue.create(qname, partitions=4)
    p = q.producer()
    p.send(b"one", key="user-42")
    p.send(bytearray(b"two"), key=b"user-42")
    p.send("three", key="user-42")
    with q.consumer("g") as c:
        msgs = [c.receive(timeout=5) for _ in range(3)]
        assert [bytes(m.data) for m in msgs] == [b"one", b"two", b"three"]
        assert {m.partition for m in msgs} == {msgs[0].partition}
        assert [m.offset for m in msgs] == [0, 1, 2]
        assert all(m.key == b"user-42" and m.deliveries == 1 for m in msgs)
        assert msgs[0].data.readonly
        for m in msgs:
            m.ack()
        assert c.receive(timeout=0) is None


def test_receive_returns_none_after_its_timeout(qname):
    q = shmq.Queue.create(qname)
    with q.consumer("g") as c:
        start = time.monotonic()
        assert c.receive(timeout=0.3) is None
        waited = time.monotonic() - start
        assert 0.29 <= waited < 5
        assert c.receive_batch(8, timeout=0.05) == []


def test_send_batch_and_receive_batch(qname):
    q = shmq.Queue.create(qname)
    p = q.producer()
    assert p.send_batch([b"a", b"b", b"c", memoryview(b"d")]) == 4
    with q.consumer("g") as c:
        msgs = c.receive_batch(10, timeout=5)
        assert [bytes(m.data) for m in msgs] == [b"a", b"b", b"c", b"d"]
        assert shmq.ack_all(msgs) == 4
        assert all(m.settled for m in msgs)


def test_claim_commits_on_exit_and_aborts_on_exception(qname):
    q = shmq.Queue.create(qname)
    p = q.producer()
    with p.claim(5) as buf:
        assert not buf.readonly and len(buf) == 5
        buf[:] = b"zcopy"
    with pytest.raises(RuntimeError):
        with p.claim(4) as buf:
            buf[:] = b"lost"
            raise RuntimeError("abort this claim")
    c = p.claim(8)
    c.buffer[:3] = b"abc"
    c.commit(3)
    with pytest.raises(shmq.AlreadySettled):
        c.commit()
    with q.consumer("g") as cons:
        got = cons.receive_batch(10, timeout=5)
        assert [bytes(m.data) for m in got] == [b"zcopy", b"abc"]
        shmq.ack_all(got)


def test_queue_claim_sends_one_message_zero_copy(qname):
    q = shmq.Queue.create(qname)
    with q.claim(6, key=b"k") as buf:
        buf[:] = b"direct"
    with pytest.raises(RuntimeError):
        with q.claim(4) as buf:
            raise RuntimeError("abort this claim")
    with q.consumer("g") as cons:
        got = cons.receive_batch(10, timeout=5)
        assert [(bytes(m.data), m.key) for m in got] == [(b"direct", b"k")]
        shmq.ack_all(got)


def test_nack_redelivers_and_extend_keeps_the_lease(qname):
    q = shmq.Queue.create(qname)
    q.producer().send(b"again")
    with q.consumer("g") as c:
        m = c.receive(timeout=5)
        m.extend(10.0)
        assert m.lease_held()
        m.nack()
        again = c.receive(timeout=5)
        assert bytes(again.data) == b"again" and again.deliveries == 2 and again.offset == m.offset
        again.nack(delay=0.2)
        assert c.receive(timeout=0) is None
        third = c.receive(timeout=5)
        assert third.deliveries == 3
        third.ack()


def test_use_after_ack_raises_and_the_view_is_released(qname):
    q = shmq.Queue.create(qname)
    q.producer().send(b"payload")
    with q.consumer("g") as c:
        m = c.receive(timeout=5)
        view = m.data
        m.ack()
        with pytest.raises(shmq.AlreadySettled) as e:
            m.data
        assert e.value.code == "already_settled"
        with pytest.raises(ValueError, match="released"):
            view.tobytes()
        with pytest.raises(shmq.AlreadySettled):
            m.ack()
        with pytest.raises(shmq.AlreadySettled):
            m.nack()
        assert (m.key, m.offset, m.deliveries) == (b"", 0, 1)  # metadata stays


def test_an_exported_buffer_outlives_settling_and_its_queue(qname):
    q = shmq.Queue.create(qname)
    q.producer().send(b"0123456789")
    c = q.consumer("g")
    m = c.receive(timeout=5)
    part = m.data[2:5]
    nested = memoryview(m.data)  # an export of the view: it cannot be released
    m.ack()
    c.close()
    del q, c, m
    gc.collect()
    assert len(part) == 3 and len(nested) == 10
    part.tobytes()  # still mapped: bytes of this slot (maybe a later message's)
    nested.tobytes()


def test_dropping_an_unsettled_message_nacks_it(qname):
    q = shmq.Queue.create(qname)
    q.producer().send(b"x")
    with q.consumer("g") as c:
        c.receive(timeout=5)  # dropped at once
        gc.collect()
        m = c.receive(timeout=5)
        assert m is not None and m.deliveries == 2
        m.ack()


def test_hot_path_errors_have_their_classes(qname):
    q = shmq.Queue.create(qname, capacity=2, max_message=8, on_full="reject")
    p = q.producer()
    with pytest.raises(shmq.MessageTooLarge):
        p.send(b"123456789")
    with pytest.raises(shmq.KeyTooLarge):
        p.send(b"x", key="k" * 65)
    p.send(b"1")
    p.send(b"2")
    with pytest.raises(shmq.Overloaded) as e:
        p.send(b"3")
    assert e.value.code == "overloaded" and isinstance(e.value, shmq.Error)
    with pytest.raises(shmq.Overloaded) as e:
        p.send_batch([b"a"])
    assert e.value.sent == 0
    with pytest.raises(TypeError, match="bytes-like"):
        p.send(12)


def test_writer_modes(qname):
    q = shmq.Queue.create(qname)
    auto = q.producer()  # automatic: gives the role back when another writer comes
    shared = q.producer(writer="shared")
    auto.send(b"a")
    shared.send(b"b")
    exclusive = q.producer(writer="exclusive")
    with pytest.raises(shmq.WriterBusy):
        shared.send(b"c")
    exclusive.send(b"d")
    with pytest.raises(ValueError, match="writer"):
        q.producer(writer="sometimes")
    with q.consumer("g") as c:
        assert sorted(m.data.tobytes() for m in c.receive_batch(8, timeout=1)) == [b"a", b"b", b"d"]


def test_block_send_times_out_with_timeout_error(qname):
    q = shmq.Queue.create(qname, capacity=2, on_full="block")
    p = q.producer()
    p.send(b"1")
    p.send(b"2")
    start = time.monotonic()
    with pytest.raises(shmq.Timeout) as e:
        p.send(b"3", timeout=0.25)
    assert isinstance(e.value, TimeoutError)
    assert time.monotonic() - start >= 0.24


def test_iteration_stops_when_the_queue_is_deleted(qname):
    q = shmq.Queue.create(qname)
    q.producer().send_batch([b"1", b"2"])
    seen = []
    c = q.consumer("g")

    def remove_later():
        while len(seen) < 2:
            time.sleep(0.01)
        shmq.Queue.remove(qname)

    t = threading.Thread(target=remove_later)
    t.start()
    for m in c:
        seen.append(bytes(m.data))
        m.ack()
    t.join(30)
    assert seen == [b"1", b"2"]


def test_closed_handles_raise_closed(qname):
    q = shmq.Queue.create(qname)
    p = q.producer()
    c = q.consumer("g")
    p.close()
    c.close()
    with pytest.raises(shmq.Closed):
        p.send(b"x")
    with pytest.raises(shmq.Closed):
        c.receive(timeout=0)
    q.close()
    with pytest.raises(shmq.Closed):
        q.producer()


def test_a_blocking_receive_releases_the_gil(qname):
    q = shmq.Queue.create(qname)
    got = []
    with q.consumer("g") as c:
        t = threading.Thread(target=lambda: got.append(c.receive(timeout=20)))
        t.start()
        # This thread runs (and sends) while the other one waits in receive.
        q.producer().send(b"wake")
        t.join(30)
        assert not t.is_alive() and bytes(got[0].data) == b"wake"
        got[0].ack()


def test_messages_come_only_from_receive():
    for cls in (shmq.Message, shmq.Queue, shmq.Consumer, shmq.Producer, shmq.Claim):
        with pytest.raises(TypeError):
            cls()
    with pytest.raises(TypeError, match="shmq.Message"):
        shmq.ack_all([b"not a message"])


def test_dedup_id_sends_once_within_the_window(qname):
    with shmq.Queue.create(qname, dedup_window_ms=60_000) as q:
        assert q.options["dedup_window_ms"] == 60_000
        assert q.options["dedup_capacity"] == 1024  # partitions x capacity by default
        p = q.producer()
        assert p.send(b"charge Evan $50", key="evan", dedup_id="pay-1") is False
        assert p.send(b"charge Evan $50", key="evan", dedup_id="pay-1") is True
        assert p.send(b"no id") is False
        c = q.consumer("g")
        m = c.receive(timeout=1.0)
        assert bytes(m.data) == b"charge Evan $50" and m.dedup_id == b"pay-1"
        m.ack()
        assert m.dedup_id == b"pay-1"  # copied at delivery: still there after settling
        m = c.receive(timeout=1.0)
        assert m.dedup_id == b"" and bytes(m.data) == b"no id"
        m.ack()
        assert c.receive(timeout=0.05) is None
        with pytest.raises(shmq.InvalidArgument):
            p.send(b"x", dedup_id=b"i" * 129)


def test_a_delayed_send_waits_in_the_delay_store_until_it_is_due(qname):
    q = shmq.Queue.create(qname, delay_capacity=2)
    assert q.options["delay_capacity"] == 2
    c = q.consumer("g")
    with q.producer() as p:
        sent = time.time()
        p.send(b"later", key="k", delay=0.05)
        p.send(b"held", delay=60.0)
        with pytest.raises(shmq.Overloaded):
            p.send(b"no room", delay=60.0)
    m = c.receive(timeout=5.0)
    assert bytes(m.data) == b"later"
    assert time.time() >= sent + 0.05
    m.ack()
    assert c.receive(timeout=0.05) is None  # "held" is still waiting


def test_keyed_group_gives_one_message_of_a_key_at_a_time(qname):
    q = shmq.Queue.create(qname, keyed_groups=1)
    assert q.options["keyed_groups"] == 1
    with q.producer() as p:
        for i in range(3):
            p.send(b"a%d" % i, key="a")
        p.send(b"b0", key="b")
    with q.consumer("g", kind="keyed") as c:
        first = c.receive_batch(8, timeout=1.0)
        assert sorted(bytes(m.data) for m in first) == [b"a0", b"b0"]  # a1 waits for a0's ACK
        assert c.receive(timeout=0) is None
        shmq.ack_all(first)
        nxt = c.receive(timeout=1.0)
        assert bytes(nxt.data) == b"a1" and nxt.deliveries == 1
        nxt.ack()
    with pytest.raises(shmq.NoResources, match="--keyed-groups"):
        q.consumer("other", kind="keyed")


def test_message_ttl_expired_messages_are_never_delivered(qname):
    q = shmq.Queue.create(qname, message_ttl_ms=60_000, ttl_action="dlq")
    assert q.options["message_ttl_ms"] == 60_000 and q.options["ttl_action"] == "dlq"
    with q.consumer("g") as c, q.producer() as p:
        p.send(b"short", ttl=0.03)  # its own TTL, lower than the queue's
        p.send(b"long")
        time.sleep(0.08)
        m = c.receive(timeout=1.0)
        assert bytes(m.data) == b"long"  # "short" expired: to the DLQ, never delivered
        m.ack()
        assert c.receive(timeout=0) is None
        with pytest.raises(shmq.InvalidArgument):
            p.send(b"x", ttl=0)
    with pytest.raises(shmq.InvalidArgument, match="ttl_action"):
        shmq.Queue.create(qname + "-bad", ttl_action="later")
