"""A sandboxed child for the parent-death test: writes its pid to ``argv[1]``, then sleeps."""

from __future__ import annotations

import os
import sys
import time

with open(sys.argv[1], "w") as fh:
    fh.write(str(os.getpid()))
time.sleep(600)
