"""Shared helpers of the matgrad Python tests.

The tests compare against numpy formulas written here (never against values matgrad computed) and
against central finite differences (matgrad.gradcheck, which never runs backward's code for them).
"""
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

import matgrad as mg


def needs(name):
    """Skips a test until matgrad has `name` (ops still on other branches turn on after the merge)."""
    return pytest.mark.skipif(not hasattr(mg, name), reason=f"matgrad.{name} is not in this build yet")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def assert_katex_typesets(latex, tmp_path):
    """Every $$ block of `latex` typesets, as Jupyter shows it (KaTeX in strict mode, as the explain
    test does); skips without node or KaTeX."""
    node = shutil.which("node") or shutil.which("nodejs")
    katex = os.environ.get("MATGRAD_KATEX_DIR", "/usr/share/javascript/katex")
    if node is None or not os.path.exists(os.path.join(katex, "katex.js")):
        pytest.skip("node or KaTeX missing (apt-get install nodejs libjs-katex)")
    (tmp_path / "check.tex").write_text(latex, encoding="utf-8")
    script = pathlib.Path(__file__).resolve().parents[2] / "tests" / "explain" / "katex_check.js"
    check = subprocess.run([node, str(script), katex, str(tmp_path / "check.tex")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def max_abs_diff(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    return float(np.max(np.abs(a - b)))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
