"""Python <-> C++ across processes, through the `shmq` tool (docs/CLI.md)."""

import subprocess

import shmq


def test_python_producer_to_cpp_consumer(qname, shmq_bin):
    q = shmq.Queue.create(qname, partitions=2)
    lines = [f"py-{i}" for i in range(50)]
    q.producer().send_batch([s.encode() for s in lines])
    out = subprocess.run(
        [shmq_bin, "consume", qname, "--group", "cpp", "--count", str(len(lines)), "--timeout-ms", "20000"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.splitlines()) == sorted(lines)


def test_cpp_producer_to_python_consumer(qname, shmq_bin):
    q = shmq.Queue.create(qname)
    lines = [f"cpp-{i}" for i in range(50)]
    with q.consumer("py") as c:  # joined first: the group starts at the oldest offset anyway
        out = subprocess.run([shmq_bin, "produce", qname, "--key", "k"], input="\n".join(lines) + "\n",
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        got = []
        while len(got) < len(lines):
            m = c.receive(timeout=20)
            assert m is not None, f"only {len(got)} of {len(lines)} messages arrived"
            got.append((bytes(m.data).decode(), m.key))
            m.ack()
    assert got == [(s, b"k") for s in lines]


def test_python_consumer_sees_routing_key_and_headers(qname, shmq_bin):
    q = shmq.Queue.create(qname)
    x = qname + ".x"
    run = lambda *args, **kw: subprocess.run([shmq_bin, *args], capture_output=True, text=True, timeout=60, **kw)
    assert run("exchange", "create", x, "--type", "direct").returncode == 0
    try:
        assert run("bind", x, qname, "--key", "orders").returncode == 0
        out = run("publish", x, "--routing-key", "orders", "--header", "lang=en", "--header", "n=", input="one\n")
        assert out.returncode == 0, out.stderr
        q.producer().send(b"plain")
        with q.consumer("py") as c:
            m = c.receive(timeout=5)
            assert bytes(m.data) == b"one"
            assert m.routing_key == b"orders"
            assert m.headers == [(b"lang", b"en"), (b"n", b"")]
            assert m.header("lang") == b"en" and m.header(b"n") == b"" and m.header("x") is None
            assert not m.attributes_malformed
            m.ack()
            assert m.routing_key == b"orders" and m.header("lang") == b"en", "kept after settling"
            m = c.receive(timeout=5)
            assert bytes(m.data) == b"plain" and m.routing_key == b"" and m.headers == []
            m.ack()
    finally:
        run("exchange", "delete", x)
