"""Python workers killed (SIGKILL) or interrupted (SIGINT, Ctrl-C) while they
hold or wait for messages: nothing is lost."""

import os
import signal
import subprocess
import time

import pytest

import shmq
from conftest import read_line, spawn_python

HOLDER = """
import sys, time, shmq
q = shmq.Queue.open(sys.argv[1])
c = q.consumer("workers", kind="shared")
held = []
while len(held) < 3:
    held += c.receive_batch(3 - len(held), timeout=20)
print("holding", *sorted(m.offset for m in held), flush=True)
time.sleep(600)
"""


def kill_holder_and_collect(q, qname):
    """Sends m0..m2, has a HOLDER worker take all three, SIGKILLs it, and
    returns what another consumer of the group then gets: payload -> deliveries."""
    q.producer().send_batch([b"m0", b"m1", b"m2"])
    worker = spawn_python(HOLDER, qname)
    try:
        assert read_line(worker, "holding") == "holding 0 1 2"
    finally:
        worker.kill()
        worker.wait(30)
    assert worker.returncode == -signal.SIGKILL
    got = {}
    deadline = time.monotonic() + 30
    with q.consumer("workers", kind="shared") as c:
        while len(got) < 3 and time.monotonic() < deadline:
            m = c.receive(timeout=1)
            if m is not None:
                got[bytes(m.data)] = m.deliveries
                m.ack()
    return got


def test_a_killed_worker_s_messages_are_redelivered(qname):
    # Short leases: without shmqd, the surviving consumer's own maintenance
    # finds the dead holder's leases expired and redelivers them.
    q = shmq.Queue.create(qname, lease_ms=1000)
    assert kill_holder_and_collect(q, qname) == {b"m0": 2, b"m1": 2, b"m2": 2}


def test_shmqd_redelivers_a_killed_worker_s_messages_long_before_their_lease_ends(qname, tmp_path):
    shmqd_bin = os.environ.get("SHMQD_BIN")
    if not shmqd_bin:
        pytest.skip("SHMQD_BIN is not set (run through ctest)")
    # 10-minute leases: a redelivery within the test's time is shmqd's
    # reaping of the dead holder (pidfd), not an expiry.
    q = shmq.Queue.create(qname, lease_ms=600_000)
    daemon = subprocess.Popen(
        [shmqd_bin, "--queue", qname, "--lock-file", str(tmp_path / "shmqd.lock"), "--data-dir", str(tmp_path),
         "--tick-ms", "100"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "shmqd.log", "w"),
    )
    try:
        got = kill_holder_and_collect(q, qname)
        assert got == {b"m0": 2, b"m1": 2, b"m2": 2}, (tmp_path / "shmqd.log").read_text()
    finally:
        daemon.terminate()
        daemon.wait(30)


WAITER = """
import signal, sys, time, shmq
signal.signal(signal.SIGINT, signal.default_int_handler)
q = shmq.Queue.open(sys.argv[1])
c = q.consumer("workers", kind="shared")
print("waiting", flush=True)
try:
    m = c.receive()
    print("got", bytes(m.data), flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
"""


def test_ctrl_c_interrupts_a_blocking_receive_and_loses_nothing(qname):
    q = shmq.Queue.create(qname)
    waiter = spawn_python(WAITER, qname)
    try:
        read_line(waiter, "waiting")
        # Let it get into receive (if the signal came earlier, Python raises
        # KeyboardInterrupt all the same: the test holds either way).
        time.sleep(0.3)
        start = time.monotonic()
        waiter.send_signal(signal.SIGINT)
        assert read_line(waiter, "interrupted") == "interrupted"
        waiter.wait(30)
        elapsed = time.monotonic() - start
    finally:
        waiter.kill()
        waiter.wait(30)
    assert waiter.returncode == 3
    # 100 ms slices: 200 ms promised, plus slack for a loaded 2-vCPU VM.
    assert elapsed < 1.0, f"KeyboardInterrupt took {elapsed:.3f} s"
    q.producer().send(b"after")
    with q.consumer("workers", kind="shared") as c:
        m = c.receive(timeout=10)
        assert m is not None and bytes(m.data) == b"after" and m.deliveries == 1
        m.ack()


DAEMON_THREAD = """
import sys, threading, time, shmq
c = shmq.Queue.open(sys.argv[1]).consumer("g")
threading.Thread(target=c.receive, daemon=True).start()
time.sleep(0.3)
print("exiting", flush=True)
"""


def test_a_daemon_thread_blocked_in_receive_does_not_abort_the_exit(qname):
    shmq.Queue.create(qname)
    child = spawn_python(DAEMON_THREAD, qname)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0 and out.strip() == "exiting", err
