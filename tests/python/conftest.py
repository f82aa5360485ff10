"""Fixtures of the Python binding's tests (run by ctest: shmq_python_tests).

PYTHONPATH points at the build tree's package (build/python); SHMQ_BIN and
SHMQD_BIN name the build's `shmq` and `shmqd`.
"""

import itertools
import os
import subprocess
import sys
import time

import pytest

import shmq

_counter = itertools.count()

# Under ctest the package must be the build tree's, never an installed copy.
_build_tree = os.environ.get("SHMQ_PYTHON_BUILD_DIR")
if _build_tree:
    assert os.path.realpath(shmq.__file__).startswith(os.path.realpath(_build_tree) + os.sep), (
        f"imported shmq from {shmq.__file__}, not from the build tree {_build_tree}: check PYTHONPATH"
    )


@pytest.fixture
def qname():
    """A queue name unique to this run and test; the queue is removed after."""
    name = f"pytest.{os.getpid()}.{next(_counter)}"
    yield name
    try:
        shmq.Queue.remove(name)
    except shmq.NotFound:
        pass


@pytest.fixture
def shmq_bin():
    path = os.environ.get("SHMQ_BIN")
    if not path:
        pytest.skip("SHMQ_BIN is not set (run through ctest)")
    return path


def spawn_python(code, *args):
    """A child /usr/bin/python3 (this interpreter) running `code`, with pipes."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_line(proc, expect, timeout=30.0):
    """The child's next stdout line, which must be `expect` (a prefix)."""
    deadline = time.monotonic() + timeout
    line = proc.stdout.readline()
    assert time.monotonic() < deadline, f"child took over {timeout} s to say {expect!r}"
    if not line.startswith(expect):
        proc.kill()
        raise AssertionError(f"child said {line!r}, expected {expect!r}; stderr: {proc.stderr.read()}")
    return line.strip()
