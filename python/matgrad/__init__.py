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

# Report the classes as matgrad.X (tracebacks, repr) rather than matgrad._core.X.
for _cls in (Tape, Var, GradcheckResult, ShapeError, UsageError, NumericalError,  # noqa: F405
             Model, ParseError, Explanation):  # noqa: F405
    _cls.__module__ = __name__
del _cls


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
