#!/usr/bin/python3
"""Runs the Python resize stage end to end and checks it.

Makes PHOTOS small JPEGs (and one corrupt file) in a temp dir, creates a
queue (max_deliveries 3), starts WORKERS resize_worker.py processes, sends
every photo's path with `shmq produce`, and checks that every good photo has
a thumbnail no larger than the size asked for, and that the corrupt one is
in the dead-letter queue (`shmq dlq peek`). Exits non-zero, naming what is
missing, if not.

    run_resize.py [--photos N] [--workers N] [--shmq PATH]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--shmq", default=os.environ.get("SHMQ_TOOL", "shmq"), help="the shmq tool")
    args = ap.parse_args()

    queue = f"py-resize-{os.getpid()}"
    work = tempfile.mkdtemp(prefix="shmq-py-resize-")
    src, out = os.path.join(work, "in"), os.path.join(work, "out")
    os.makedirs(src)
    os.makedirs(out)
    paths = []
    for i in range(args.photos):
        p = os.path.join(src, f"photo-{i:05d}.jpg")
        Image.new("RGB", (320 + i % 7, 240), (i % 256, 80, 160)).save(p, "JPEG")
        paths.append(p)
    corrupt = os.path.join(src, "corrupt.jpg")
    with open(corrupt, "wb") as f:
        f.write(b"not a JPEG at all")

    subprocess.run([args.shmq, "create", queue, "--partitions", "2", "--max-deliveries", "3",
                    "--max-message", "4096"], check=True)
    workers = []
    try:
        env = dict(os.environ)
        for _ in range(args.workers):
            workers.append(subprocess.Popen([sys.executable, os.path.join(HERE, "resize_worker.py"), queue, out,
                                             "--size", str(args.size), "--idle-exit", "3"], env=env))
        lines = "\n".join(paths[: len(paths) // 2] + [corrupt] + paths[len(paths) // 2:]) + "\n"
        subprocess.run([args.shmq, "produce", queue], input=lines.encode(), check=True)
        for w in workers:
            if w.wait(timeout=120) != 0:
                print(f"run_resize: worker {w.pid} exited with {w.returncode}", file=sys.stderr)
                return 1
        dlq = subprocess.run([args.shmq, "dlq", "peek", queue, "--count", "10"], check=True,
                             capture_output=True).stdout.decode().split()
        missing = [p for p in paths if not os.path.exists(os.path.join(out, os.path.basename(p)))]
        too_big = []
        for p in paths:
            t = os.path.join(out, os.path.basename(p))
            if os.path.exists(t):
                with Image.open(t) as im:
                    if max(im.size) > args.size:
                        too_big.append(t)
        print(f"run_resize: {len(paths) - len(missing)} of {len(paths)} photos resized by {args.workers} workers; "
              f"DLQ holds {dlq}")
        if missing or too_big or dlq != [corrupt] or os.path.exists(os.path.join(out, "corrupt.jpg")):
            print(f"run_resize: FAILED: missing {missing[:5]}, too big {too_big[:5]}, DLQ {dlq}", file=sys.stderr)
            return 1
        print("run_resize: OK: every photo resized, the corrupt one dead-lettered")
        return 0
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
        subprocess.run([args.shmq, "delete", queue], check=False, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
