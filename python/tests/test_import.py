import os

import matgrad as mg


def test_imported_from_the_tree_under_test():
    # ctest sets MATGRAD_EXPECTED_DIR: the build tree's package, or the install prefix's.
    expected = os.environ.get("MATGRAD_EXPECTED_DIR")
    if expected is None:
        import pytest
        pytest.skip("MATGRAD_EXPECTED_DIR is not set (ctest sets it)")
    assert os.path.realpath(os.path.dirname(mg.__file__)) == os.path.realpath(expected)
    assert os.path.realpath(os.path.dirname(mg._core.__file__)) == os.path.realpath(expected)


def test_public_names():
    for name in ["Tape", "Var", "gradcheck", "GradcheckResult", "ShapeError", "UsageError",
                 "NumericalError", "sigmoid", "exp", "log", "sum", "mean", "matmul", "transpose",
                 "binary_cross_entropy", "tanh", "relu"]:
        assert hasattr(mg, name), name
