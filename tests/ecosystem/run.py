"""Runs one of the ecosystem tests under pytest, as ctest does:
/usr/bin/python3 run.py test_promtool.py. Fails with one line when this
Python has no pytest (Debian: python3-pytest)."""

import os
import sys

try:
    import pytest
except ImportError:
    print(f"pytest not found for {sys.executable}: install the Debian package `python3-pytest` "
          f"(sudo apt-get install --no-install-recommends python3-pytest), as scripts/setup does", file=sys.stderr)
    sys.exit(1)

here = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
# -p no:cacheprovider: no .pytest_cache in the source tree either; -rfE: a
# one-line reason for every failure and error at the end.
sys.exit(pytest.main(["-p", "no:cacheprovider", "-q", "-rfE", "--rootdir", here,
                      *[os.path.join(here, a) if a.endswith(".py") else a for a in sys.argv[1:]]]))
