#!/usr/bin/python3
"""The photo pipeline's resize stage, as a Python worker (Pillow).

Each message is the path of an uploaded photo. The worker writes a thumbnail
of it (at most SIZE x SIZE, aspect kept, JPEG) into OUT_DIR under the same
file name and ACKs the message. A photo Pillow cannot read is NACKed with a
short delay: it comes back, and once it has used up the queue's
max_deliveries the library moves it to the dead-letter queue
(`shmq dlq ls QUEUE`). Several workers in the same group share the photos;
a worker that dies holding some has them redelivered to the others.

    resize_worker.py QUEUE OUT_DIR [--group resize] [--size 128] [--idle-exit S]
"""

import argparse
import os
import sys

from PIL import Image, UnidentifiedImageError

import shmq


def resize(path: str, out_dir: str, size: int) -> None:
    with Image.open(path) as im:
        im.thumbnail((size, size))
        target = os.path.join(out_dir, os.path.basename(path))
        tmp = target + ".tmp"
        im.convert("RGB").save(tmp, "JPEG")
        os.replace(tmp, target)  # a thumbnail is there whole or not at all


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("queue")
    ap.add_argument("out_dir")
    ap.add_argument("--group", default="resize")
    ap.add_argument("--size", type=int, default=128, help="longest side of a thumbnail, pixels")
    ap.add_argument("--idle-exit", type=float, default=None, metavar="S",
                    help="exit after S seconds with no message (default: run until Ctrl-C)")
    args = ap.parse_args()

    done = rejected = 0
    q = shmq.Queue.open(args.queue)
    with q.consumer(args.group, kind="shared") as c:
        try:
            while (msg := c.receive(timeout=args.idle_exit)) is not None:
                path = bytes(msg.data).decode()
                try:
                    resize(path, args.out_dir, args.size)
                except (OSError, UnidentifiedImageError, ValueError) as e:
                    print(f"resize_worker: {path}: {e}; NACKed (delivery {msg.deliveries})", file=sys.stderr)
                    msg.nack(delay=0.05)
                    rejected += 1
                    continue
                msg.ack()
                done += 1
        except KeyboardInterrupt:
            pass
    print(f"resize_worker {os.getpid()}: {done} resized, {rejected} rejected", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
