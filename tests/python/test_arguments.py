"""Arguments of the per-message methods (receive, receive_batch, send,
send_batch), which the extension parses by hand: positions, keywords, keyword
dicts built at run time, and the errors for everything else."""

import math

import pytest

import shmq


def test_receive_takes_timeout_by_position_keyword_or_built_dict(qname):
    q = shmq.Queue.create(qname)
    with q.consumer("g") as c:
        assert c.receive(0) is None
        assert c.receive(timeout=0) is None
        assert c.receive(**{"time" + "out": 0}) is None  # a name not interned by the compiler
        assert c.receive(timeout=0.0) is None and c.receive(False) is None
        assert c.receive_batch(4, 0) == [] and c.receive_batch(n=4, timeout=0) == []


def test_receive_rejects_bad_arguments(qname):
    q = shmq.Queue.create(qname)
    with q.consumer("g") as c:
        with pytest.raises(TypeError):
            c.receive(0, 1)
        with pytest.raises(TypeError):
            c.receive(0, timeout=0)
        with pytest.raises(TypeError):
            c.receive(timeuot=0)
        with pytest.raises(TypeError):
            c.receive("soon")
        with pytest.raises(shmq.InvalidArgument):
            c.receive(math.nan)
        with pytest.raises(TypeError):
            c.receive_batch()
        with pytest.raises(TypeError):
            c.receive_batch(-1, 0)
        with pytest.raises(TypeError):
            c.receive_batch(2.0, 0)
        with pytest.raises(TypeError):
            c.receive_batch(None, 0)
        with pytest.raises(TypeError):
            shmq.Consumer.receive(object())


def test_send_takes_data_by_position_or_keyword_and_the_rest_by_keyword(qname):
    q = shmq.Queue.create(qname, partitions=2)
    p = q.producer()
    p.send(data=b"a")
    p.send(b"b", key="k", timeout=1.0, partition=1)
    p.send(b"c", **{"part" + "ition": 1})
    assert p.send_batch(payloads=[b"d"], partition=0) == 1
    assert p.send_batch((bytes([i]) for i in range(3)), key=b"k") == 3  # any iterable
    with q.consumer("g") as c:
        got = []
        while (m := c.receive(timeout=0)) is not None:
            got.append((m.partition, bytes(m.data)))
            m.ack()
    assert sorted(d for _, d in got) == [b"\x00", b"\x01", b"\x02", b"a", b"b", b"c", b"d"]
    assert {pt for pt, d in got if d in (b"b", b"c")} == {1}


def test_send_rejects_bad_arguments(qname):
    q = shmq.Queue.create(qname)
    p = q.producer()
    with pytest.raises(TypeError):
        p.send()
    with pytest.raises(TypeError):
        p.send(b"x", b"key")  # key is keyword-only
    with pytest.raises(TypeError):
        p.send(b"x", data=b"y")
    with pytest.raises(TypeError):
        p.send(b"x", priority=1)
    with pytest.raises(TypeError):
        p.send(b"x", partition=-1)
    with pytest.raises(TypeError):
        p.send(b"x", partition=1.5)
    with pytest.raises(TypeError):
        p.send(b"x", timeout="later")
    with pytest.raises(TypeError):
        p.send_batch(5)
    with pytest.raises(TypeError, match="bytes-like"):
        p.send_batch([b"ok", 7])
    with q.consumer("g") as c:
        assert c.receive(timeout=0) is None  # nothing went
