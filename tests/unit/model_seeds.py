"""Seeds of the CPU kernel-model tests (tests/unit/test_topk_*model.py).

Each test draws its rows from a generator seeded by its own name parts: stable from run to run
(the tests used Python's hash() of strings, which changes per process, so a rare failing seed
surfaced as a flaky CI run and could not be replayed). GLM52_TEST_SEED=N (default 0) moves every
test to another stream, to explore more rows by hand: a failure names it.
"""

from __future__ import annotations

import os
import zlib

import numpy as np


def model_rng(*parts) -> np.random.Generator:
    """The test's generator: crc32 of repr(parts), mixed with GLM52_TEST_SEED."""
    return np.random.default_rng([zlib.crc32(repr(parts).encode()),
                                  int(os.environ.get("GLM52_TEST_SEED", "0"))])
