"""The lab's tests share the product tests' fixtures and helpers (tests/conftest.py: the tiny tokenizer and models,
toy data): they are imported here, and test modules import the helpers with `from conftest import ...` as there."""

import os
import sys

TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tests")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from conftest import *  # noqa: E402, F401, F403
