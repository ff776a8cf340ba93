"""numpy inputs of any layout and numeric dtype arrive exactly; outputs are C-ordered float64."""
import numpy as np
import pytest

import matgrad as mg


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
                                   np.int64, np.uint8, np.uint32, np.uint64, np.bool_])
def test_numeric_dtypes_convert_exactly(dtype):
    values = np.array([[0, 1, 2], [3, 100, 7]])
    a = values.astype(dtype) if dtype is not np.bool_ else values > 2
    if dtype in (np.float16, np.float32):
        a = np.array([[0.1, -1 / 3, 1e-3], [65504, 2.5, -7.75]], dtype=dtype)  # not exact in decimal
    tape = mg.Tape()
    for make in (tape.constant, tape.variable):
        v = make(a).value
        assert v.dtype == np.float64 and v.shape == a.shape
        assert np.array_equal(v, a.astype(np.float64))  # the exact float64 of every element


def test_fortran_order_and_non_contiguous_views(rng):
    base = rng.standard_normal((6, 8))
    views = {
        "fortran": np.asfortranarray(base),
        "transposed": base.T,
        "strided": base[::2, 1::3],
        "negative strides": base[::-1, ::-2],
        "column": base[:, 3:4],
        "big-endian": base.astype(">f8"),
    }
    tape = mg.Tape()
    for label, view in views.items():
        assert np.array_equal(tape.variable(view).value, np.ascontiguousarray(view)), label
    # and as operands: a Fortran-ordered array on the right of @
    W = tape.variable(base[:3, :6])
    assert np.allclose((W @ np.asfortranarray(base)).value, base[:3, :6] @ base, rtol=0, atol=1e-14)


def test_nested_lists_and_array_likes():
    tape = mg.Tape()
    assert np.array_equal(tape.constant([[1, 2], [3, 4]]).value, np.array([[1.0, 2], [3, 4]]))
    assert np.array_equal(tape.constant(((True, 2.5),)).value, np.array([[1.0, 2.5]]))


def test_nan_and_inf_pass_through_without_anomaly_detection():
    tape = mg.Tape()
    v = tape.constant(np.array([[np.nan, np.inf, -np.inf]])).value
    assert np.isnan(v[0, 0]) and v[0, 1] == np.inf and v[0, 2] == -np.inf


def test_gradients_have_the_shape_and_layout_of_their_variable(rng):
    a = np.asfortranarray(rng.standard_normal((3, 2)))
    tape = mg.Tape()
    A = tape.variable(a)
    w = rng.standard_normal((3, 2))
    tape.backward(mg.sum(A * w))
    g = A.grad
    assert g.shape == (3, 2) and g.dtype == np.float64 and g.flags.c_contiguous
    assert np.array_equal(g, w)
