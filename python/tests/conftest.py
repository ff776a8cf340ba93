"""Shared helpers of the matgrad Python tests.

The tests compare against numpy formulas written here (never against values matgrad computed) and
against central finite differences (matgrad.gradcheck, which never runs backward's code for them).
"""
import numpy as np
import pytest

import matgrad as mg


def needs(name):
    """Skips a test until matgrad has `name` (ops still on other branches turn on after the merge)."""
    return pytest.mark.skipif(not hasattr(mg, name), reason=f"matgrad.{name} is not in this build yet")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def max_abs_diff(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    return float(np.max(np.abs(a - b)))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
