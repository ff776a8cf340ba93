"""matgrad: reverse-mode autodiff on 2-D float64 matrices, on numpy arrays.

The engine is the C++ library (matgrad._core); this package only re-exports it:

    import numpy as np, matgrad as mg
    tape = mg.Tape()
    W = tape.variable(np.ones((2, 3)), "W")
    X = tape.constant(np.ones((3, 4)), "X")
    J = mg.mean(mg.sigmoid(W @ X))
    tape.backward(J)
    W.grad          # numpy float64 array, 2x3
"""
from ._core import *  # noqa: F401,F403
from ._core import __version__  # noqa: F401

# Report the classes as matgrad.X (tracebacks, repr) rather than matgrad._core.X.
for _cls in (Tape, Var, GradcheckResult, ShapeError, UsageError, NumericalError,  # noqa: F405
             Model, ParseError, Explanation):  # noqa: F405
    _cls.__module__ = __name__
del _cls


# numpy's ufuncs matgrad has as ops: binary ones by the Var's operator (and its reflection).
_UFUNC_BINARY = {"add": "add", "subtract": "sub", "multiply": "mul", "true_divide": "truediv", "divide": "truediv",
                 "matmul": "matmul", "power": "pow"}
_UFUNC_UNARY = {"tanh": tanh, "exp": exp, "log": log, "sqrt": sqrt, "sin": sin, "cos": cos,  # noqa: F405
                "absolute": abs, "negative": lambda x: -x}


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """numpy ufuncs on a Var record matgrad's op (np.tanh(W) is matgrad.tanh(W), array + W is W.__radd__);
    a ufunc matgrad has no op for is a TypeError naming matgrad's functions."""
    name = ufunc.__name__
    if method == "__call__" and not kwargs and name in _UFUNC_UNARY and len(inputs) == 1:
        return _UFUNC_UNARY[name](inputs[0])
    if method == "__call__" and not kwargs and name in _UFUNC_BINARY and len(inputs) == 2:
        op = _UFUNC_BINARY[name]
        return getattr(self, f"__{op}__" if inputs[0] is self else f"__r{op}__")(inputs[1 - (inputs[0] is not self)])
    raise TypeError(f"numpy's {name} ({method}) does not record on a matgrad tape; use matgrad's functions on a "
                    "Var (matgrad.tanh, matgrad.exp, matgrad.log, matgrad.sum, ...; operators + - * / @ **)")


Var.__array_ufunc__ = _array_ufunc  # noqa: F405


class VerifyReport(dict):
    """What Model.verify returns: the dict of `matgrad verify MODEL --json` ({"gradients": [...],
    "first_wrong_step": ...}); str() is the CLI's text report, and Jupyter typesets `latex` (the
    model's equations with each hand gradient's verdict, as `--format latex`)."""

    def __init__(self, report, text, latex):
        super().__init__(report)
        self.text = text
        self.latex = latex

    def __str__(self):
        return self.text

    def _repr_latex_(self):
        return self.latex
