"""Handles across fork(): dead in the child (UsedAfterFork), and the child
keeps none of the parent's region descriptors (their locks)."""

import os

import shmq


def region_fds(name):
    fds = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(f"/dev/shm/shmq.{name}"):
                fds.append(int(fd))
        except OSError:
            pass
    return fds


def test_handles_used_in_a_forked_child_raise_and_the_child_can_reopen(qname):
    q = shmq.Queue.create(qname)
    c = q.consumer("g")
    p = q.producer()
    p.send(b"before")
    m = c.receive(timeout=5)
    assert region_fds(qname), "the parent maps the region through a descriptor"
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            checks = []
            checks.append(region_fds(qname) == [])
            for call in (lambda: c.receive(timeout=0), lambda: p.send(b"x"), lambda: q.producer(),
                         lambda: m.ack(), lambda: m.data):
                try:
                    call()
                    checks.append(False)
                except shmq.UsedAfterFork as e:
                    checks.append(f"was opened in process {os.getppid()}; open it again after fork()" in str(e))
            shmq.Queue.open(qname).producer().send(b"from the child")
            code = 0 if all(checks) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's handles are intact, and the child's message arrived.
    m.ack()
    got = c.receive(timeout=10)
    assert bytes(got.data) == b"from the child"
    got.ack()
    c.close()
