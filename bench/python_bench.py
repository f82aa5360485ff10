#!/usr/bin/python3
"""shmq from Python beside multiprocessing.Queue and multiprocessing.Pipe, in one run.

One producer process and one consumer process, 64-byte payloads by default.
On every side the consumer reads each payload (``bytes(...)`` of it: a copy
out of shared memory for shmq, what unpickling makes for multiprocessing),
and shmq ACKs each message. Variants:

  shmq_per_call   send() / receive() + ack(), one call per message
  shmq_batched    send_batch(BATCH) / receive_batch(BATCH) + shmq.ack_all()
  mp_queue        multiprocessing.Queue put() / get()
  mp_pipe         multiprocessing.Pipe send_bytes() / recv_bytes()

Each variant runs --reps times, interleaved (variant order rotates every
round, since this VM is shared and noisy); the table shows the median and the
range of messages/s, timed in the consumer from the producer's start signal
to the last message. The ratios against multiprocessing.Queue are of medians.

    PYTHONPATH=build/python bench/python_bench.py [--count N] [--size B] [--reps R] [--json FILE]
"""

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time

import shmq

BATCH = 64


def shmq_queue_name(tag):
    return f"pybench-{os.getpid()}-{tag}"


# --- shmq ---------------------------------------------------------------------


def shmq_producer(name, count, size, batched, go):
    q = shmq.Queue.open(name)
    p = q.producer()
    payload = bytes(size)
    go.wait()
    if batched:
        chunk = [payload] * BATCH
        sent = 0
        while sent < count:
            n = min(BATCH, count - sent)
            p.send_batch(chunk if n == BATCH else chunk[:n])
            sent += n
    else:
        for _ in range(count):
            p.send(payload)


def shmq_consume(name, count, batched, go):
    q = shmq.Queue.open(name)
    with q.consumer("bench") as c:
        go.set()
        start = time.perf_counter()
        got = 0
        read = 0
        if batched:
            while got < count:
                msgs = c.receive_batch(BATCH, timeout=10.0)
                if not msgs:
                    raise RuntimeError(f"shmq: nothing for 10 s after {got} of {count} messages")
                for m in msgs:
                    read += len(bytes(m.data))
                shmq.ack_all(msgs)
                got += len(msgs)
        else:
            while got < count:
                m = c.receive(timeout=10.0)
                if m is None:
                    raise RuntimeError(f"shmq: nothing for 10 s after {got} of {count} messages")
                read += len(bytes(m.data))
                m.ack()
                got += 1
        elapsed = time.perf_counter() - start
    return elapsed, read


def run_shmq(count, size, batched):
    name = shmq_queue_name("b" if batched else "c")
    shmq.Queue.create(name, partitions=1, capacity=4096, max_message=max(size, 64))
    try:
        ctx = mp.get_context("fork")
        go = ctx.Event()
        # Forked before this process opens anything of the queue: the child opens its own.
        prod = ctx.Process(target=shmq_producer, args=(name, count, size, batched, go))
        prod.start()
        try:
            elapsed, read = shmq_consume(name, count, batched, go)
        finally:
            prod.join(timeout=30)
            if prod.is_alive():
                prod.kill()
        if prod.exitcode != 0:
            raise RuntimeError(f"shmq producer exited with {prod.exitcode}")
    finally:
        shmq.Queue.remove(name)
    assert read == count * size, (read, count * size)
    return count / elapsed


# --- multiprocessing ------------------------------------------------------------


def mp_queue_producer(queue, count, size, go):
    payload = bytes(size)
    go.wait()
    for _ in range(count):
        queue.put(payload)


def mp_pipe_producer(conn, count, size, go):
    payload = bytes(size)
    go.wait()
    for _ in range(count):
        conn.send_bytes(payload)


def run_mp(count, size, kind):
    ctx = mp.get_context("fork")
    go = ctx.Event()
    if kind == "queue":
        queue = ctx.Queue()
        prod = ctx.Process(target=mp_queue_producer, args=(queue, count, size, go))
        receive = queue.get
    else:
        reader, writer = ctx.Pipe(duplex=False)
        prod = ctx.Process(target=mp_pipe_producer, args=(writer, count, size, go))
        receive = reader.recv_bytes
    prod.start()
    go.set()
    start = time.perf_counter()
    read = 0
    for _ in range(count):
        read += len(receive())
    elapsed = time.perf_counter() - start
    prod.join(timeout=30)
    assert read == count * size, (read, count * size)
    return count / elapsed


VARIANTS = {
    "shmq_per_call": lambda n, s: run_shmq(n, s, batched=False),
    "shmq_batched": lambda n, s: run_shmq(n, s, batched=True),
    "mp_queue": lambda n, s: run_mp(n, s, "queue"),
    "mp_pipe": lambda n, s: run_mp(n, s, "pipe"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=200_000, help="messages per run (default 200000)")
    ap.add_argument("--size", type=int, default=64, help="payload bytes (default 64)")
    ap.add_argument("--reps", type=int, default=5, help="runs per variant, interleaved (default 5)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args()
    if args.count < 1 or args.size < 1 or args.reps < 1:
        ap.error("--count, --size and --reps must be at least 1")

    rates = {v: [] for v in VARIANTS}
    order = list(VARIANTS)
    for rep in range(args.reps):
        for v in order[rep % len(order):] + order[: rep % len(order)]:
            rates[v].append(VARIANTS[v](args.count, args.size))
            print(f"  round {rep + 1}: {v:14s} {rates[v][-1] / 1e6:7.3f} M msg/s", file=sys.stderr)

    med = {v: statistics.median(r) for v, r in rates.items()}
    print(f"python_bench: {args.size} B, {args.count} messages per run, median of {args.reps} (msgs/s)")
    print(f"{'variant':16s} {'median':>12s} {'min':>12s} {'max':>12s} {'/ mp_queue':>10s}")
    for v, r in rates.items():
        print(f"{v:16s} {med[v]:12,.0f} {min(r):12,.0f} {max(r):12,.0f} {med[v] / med['mp_queue']:9.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"size": args.size, "count": args.count, "reps": args.reps,
                       "rates": rates, "median": med,
                       "ratio_to_mp_queue": {v: med[v] / med["mp_queue"] for v in med}}, f, indent=1)


if __name__ == "__main__":
    main()
