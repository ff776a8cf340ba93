"""Every error is a Python exception of the documented type with the C++ message; none crashes."""
import threading

import numpy as np
import pytest

import matgrad as mg


def test_exception_hierarchy():
    assert issubclass(mg.ShapeError, ValueError)
    assert issubclass(mg.NumericalError, FloatingPointError)
    assert issubclass(mg.UsageError, RuntimeError)


def test_shape_errors_name_the_op_operands_and_shapes():
    tape = mg.Tape()
    W, X = tape.variable(np.ones((64, 10)), "W1"), tape.constant(np.ones((7, 10)), "X")
    with pytest.raises(mg.ShapeError, match=r"^matmul: W1 is 64x10 but X is 7x10 \(inner dimensions 10 and 7 differ\)$"):
        W @ X
    with pytest.raises(mg.ShapeError, match=r"^add: W1 is 64x10 but X is 7x10"):
        W + X
    with pytest.raises(mg.ShapeError, match=r"^backward: W1 is 64x10 but the output of backward\(\) must be 1x1"):
        tape.backward(W)
    with pytest.raises(ValueError):  # catchable as the builtin type
        W * X


def test_arrays_that_are_not_2d_are_value_errors_naming_the_shape():
    tape = mg.Tape()
    cases = [(np.ones(3), "(3,)"), (np.float64(2.0), "()"), (5.0, "()"), (np.ones((2, 2, 2)), "(2, 2, 2)"),
             ([1.0, 2.0], "(2,)")]
    for value, shape in cases:
        for make in (tape.constant, tape.variable):
            with pytest.raises(mg.ShapeError, match=r"expected a 2-D array, got shape " + shape.replace("(", r"\(").replace(")", r"\)")):
                make(value, "X")
    with pytest.raises(mg.ShapeError, match=r"^variable W: expected a 2-D array, got shape \(3,\) \(a row is x.reshape\(1, -1\)"):
        tape.variable(np.ones(3), "W")
    W = tape.variable(np.ones((2, 2)))
    with pytest.raises(mg.ShapeError, match=r"expected a 2-D array, got shape \(2,\)"):
        W @ np.ones(2)  # numpy's 1-D right operand of @ is a column: say so rather than guess (+ takes it as a row)
    with pytest.raises(mg.ShapeError, match=r"\(\)"):
        W @ 2.0  # numpy: matmul does not take a scalar either


def test_empty_matrices_are_refused():
    with pytest.raises(mg.ShapeError, match=r"^variable W is empty \(0x3\)"):
        mg.Tape().variable(np.ones((0, 3)), "W")


def test_unsupported_dtypes_are_type_errors():
    tape = mg.Tape()
    for value, dtype in [(np.ones((2, 2), dtype=complex), "complex128"), (np.array([["a"]]), "<U1"),
                         (np.array([[None]]), "object"), (np.ones((1, 1), dtype=np.longdouble), "float128")]:
        with pytest.raises(TypeError, match=f"expected numbers .*got dtype {dtype}"):
            tape.constant(value)


def test_integers_without_an_exact_float64_are_refused():
    tape = mg.Tape()
    tape.constant(np.array([[2 ** 53, -(2 ** 53)]], dtype=np.int64))  # exact
    with pytest.raises(mg.ShapeError, match="integers beyond 2\\^53 have no exact float64 value"):
        tape.constant(np.array([[2 ** 53 + 1]], dtype=np.int64))
    with pytest.raises(mg.ShapeError, match="2\\^53"):
        tape.constant(np.array([[2 ** 64 - 1]], dtype=np.uint64))


def test_usage_errors():
    tape = mg.Tape()
    W = tape.variable(np.ones((2, 2)), "W")
    X = tape.constant(np.ones((2, 2)), "X")
    with pytest.raises(mg.UsageError, match=r"^grad\(\): no backward\(\) has run since W was recorded$"):
        W.grad
    J = mg.sum(W * X)
    with pytest.raises(mg.UsageError, match="backward"):
        tape.explain(J)
    tape.backward(J)
    with pytest.raises(mg.UsageError, match=r"^grad\(\): X is a constant"):
        X.grad
    with pytest.raises(mg.UsageError, match="explain: the output belongs to a different tape"):
        mg.Tape().explain(J)
    with pytest.raises(TypeError):
        mg.Var()  # Vars come from a tape


def test_numerical_error_in_anomaly_detection_mode():
    tape = mg.Tape()
    tape.anomaly_detection = True
    A = tape.variable(np.array([[1.0, 0.0]]), "A")
    with pytest.raises(mg.NumericalError, match=r"^log: the unnamed log result #1 \(1x2\) has -inf at \(0,1\) from input 0 = 0$"):
        mg.log(A)
    with pytest.raises(FloatingPointError):
        mg.log(A)


def test_errors_inside_gradcheck_callbacks_propagate():
    with pytest.raises(ZeroDivisionError):
        mg.gradcheck(lambda x: 1 / 0, [np.ones((1, 1))])
    with pytest.raises(TypeError, match="f must return a 1x1 matgrad.Var"):  # not pybind11's "Unable to cast"
        mg.gradcheck(lambda x: 3.0, [np.ones((1, 1))])
    with pytest.raises(mg.ShapeError, match=r"^backward: the unnamed variable result #0 is 2x2 but the output of backward\(\) must be 1x1"):
        mg.gradcheck(lambda x: x, [np.ones((2, 2))])
    kept = []
    mg.gradcheck(lambda x: kept.append(x) or mg.sum(x), [np.ones((1, 1))])
    with pytest.raises(mg.UsageError, match="stale"):  # gradcheck's tape is gone: no dangling read
        kept[0].value
    with pytest.raises(mg.UsageError, match="stale"):
        kept[0] * 2.0


def test_functions_need_a_var():
    with pytest.raises(TypeError):
        mg.sigmoid(np.ones((2, 2)))
    with pytest.raises(TypeError, match="incompatible function arguments"):  # two arrays: no Var, no tape
        mg.binary_cross_entropy(np.ones((1, 2)), np.ones((1, 2)))


def test_the_tape_is_busy_while_backward_runs_without_the_gil():
    # A graph whose backward takes a while; another thread's use of the tape meanwhile must raise
    # UsageError (not race). Observing the error at all proves backward released the GIL.
    rng = np.random.default_rng(0)
    tape = mg.Tape()
    W = tape.variable(rng.standard_normal((300, 300)) / 20, "W")
    H = W
    for _ in range(20):
        H = mg.sigmoid(H @ W)
    J = mg.mean(H)
    done, errors = threading.Event(), []

    def run():
        try:
            tape.backward(J)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        done.set()

    thread = threading.Thread(target=run)
    busy = 0
    thread.start()
    while not done.is_set():
        try:
            len(tape)
            W.value
        except mg.UsageError as e:
            assert str(e) == "the tape is running backward() in another thread"
            busy += 1
    thread.join()
    assert not errors
    assert busy > 0
    grad = W.grad  # usable again afterwards, and the gradient is the single-threaded one
    tape.backward(J)
    assert np.array_equal(grad, W.grad)
