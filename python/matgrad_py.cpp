// matgrad._core: the engine for Python on numpy arrays. This file only maps types and names --
// every rule, check and message is the C++ library's.
//
// Ownership: a Python Var holds a shared_ptr to its Python Tape, so a Var keeps its tape alive.
// (Vars handed to gradcheck's callback live on a tape C++ owns; they hold no owner, and the C++
// stale-Var check makes any use after gradcheck returns a UsageError, never a dangling read.)
// backward() runs without the GIL; meanwhile every other use of that tape raises UsageError.
// A Model records itself on a tape of its own for each call, also without the GIL.
#include <autodiff/autodiff.hpp>
#include <autodiff/inspect.hpp>
#include <autodiff/verify.hpp>
#include <lang/derivation.hpp>
#include <lang/model.hpp>
#include <nn/io.hpp>
#include <nn/layers.hpp>
#include <nn/losses.hpp>
#include <report/render.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace py = pybind11;
using namespace pybind11::literals;
using matgrad::Matrix;
using matgrad::Tape;
using matgrad::Var;

namespace {

struct PyTape {
    Tape tape;
    std::atomic<bool> in_backward{false};

    Tape& get() {
        if (in_backward.load()) throw matgrad::UsageError("the tape is running backward() in another thread");
        return tape;
    }
};

struct PyVar {
    Var var;
    std::shared_ptr<PyTape> owner;  // null for gradcheck's tapes (owned by C++)

    const Var& get() const {
        if (owner) owner->get();
        return var;
    }
    Tape& tape() const { return owner ? owner->get() : get().tape(); }
    PyVar result(Var v) const { return {std::move(v), owner}; }
};

// ---- numpy <-> Matrix -----------------------------------------------------------------------------

/// numpy's spelling of a shape: "()", "(3,)", "(2, 3, 4)".
std::string shape_tuple(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d > 0 ? ", " : "") + std::to_string(a.shape(d));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;  // converts on construction

/// Whether every integer of `a` (read as Int) survives the round trip through double; `end` is
/// 2^bits, the first double outside Int (converting it back would be undefined).
template <class Int>
bool exact_in_double(const py::array& a, double end) {
    if (a.itemsize() <= 4) return true;
    const CArray<Int> ints(a);
    return std::all_of(ints.data(), ints.data() + ints.size(), [end](Int v) {
        const double d = static_cast<double>(v);
        return d < end && static_cast<Int>(d) == v;
    });
}

/// Any array-like numpy reads as a 2-D array of bools, integers or floats, as a float64 Matrix
/// (exact: integers beyond 2^53 are refused rather than rounded). `what` starts the messages.
Matrix to_matrix(py::handle obj, const std::string& what) {
    const py::array a = py::isinstance<py::array>(obj) ? py::reinterpret_borrow<py::array>(obj)
                                                        : py::module_::import("numpy").attr("asarray")(obj);
    const char kind = a.dtype().kind();
    const bool numeric = kind == 'b' || kind == 'i' || kind == 'u' || (kind == 'f' && a.itemsize() <= 8);
    if (!numeric)
        throw py::type_error(what + ": expected numbers (bool, int, float16/32/64), got dtype " +
                             py::str(a.dtype()).cast<std::string>());
    if (a.ndim() != 2)
        throw matgrad::ShapeError(what + ": expected a 2-D array, got shape " + shape_tuple(a) +
                                  " (a row is x.reshape(1, -1), a column x.reshape(-1, 1))");
    const CArray<double> d(a);
    if ((kind == 'i' && !exact_in_double<std::int64_t>(a, 0x1p63)) ||
        (kind == 'u' && !exact_in_double<std::uint64_t>(a, 0x1p64)))
        throw matgrad::ShapeError(what + ": integers beyond 2^53 have no exact float64 value");
    Matrix m({static_cast<std::size_t>(a.shape(0)), static_cast<std::size_t>(a.shape(1))});
    std::copy(d.data(), d.data() + d.size(), m.data());
    return m;
}

py::array_t<double> to_numpy(const Matrix& m) {
    py::array_t<double> a({m.shape(0), m.shape(1)});
    std::copy(m.begin(), m.end(), a.mutable_data());
    return a;
}

// ---- operands -------------------------------------------------------------------------------------

using Binary = Var (*)(const Var&, const Var&);

/// f(self, other), or f(other, self) when `reflected`: `other` is a Var, a number (float, int, numpy
/// scalar, 0-D array; for the ops with a scalar C++ overload), or anything numpy reads as a 2-D
/// array, which becomes a constant on self's tape. (One overload that dispatches here: a failed
/// pybind11 overload costs more than the op.)
template <class Op>
PyVar apply_binary(const PyVar& self, const py::object& other, bool reflected, const std::string& what, Op f) {
    const Var& x = self.get();
    const bool is_number = PyFloat_Check(other.ptr()) || PyLong_Check(other.ptr());
    if (!is_number && py::isinstance<PyVar>(other)) {
        const Var& y = other.cast<const PyVar&>().get();
        return self.result(reflected ? f(y, x) : f(x, y));
    }
    py::object array = is_number ? other : py::module_::import("numpy").attr("asarray")(other);
    // numpy broadcasts a 1-D operand of + - * / as a row; @ and the losses (Binary) keep refusing it.
    if (!std::is_same_v<Op, Binary> && !is_number && array.cast<py::array>().ndim() == 1) array = array.attr("reshape")(1, -1);
    if constexpr (std::is_invocable_v<Op, const Var&, double>) {
        if (is_number || array.cast<py::array>().ndim() == 0) {
            const double number = is_number ? other.cast<double>() : to_matrix(array.attr("reshape")(1, 1), what)(0, 0);
            return self.result(reflected ? f(number, x) : f(x, number));
        }
    }
    const Var c = self.tape().constant(to_matrix(array, what));
    return self.result(reflected ? f(c, x) : f(x, c));
}

/// Binds f on `scope` under `name` for (Var, other) and under `rname` for (other, Var): Var's
/// operator and its reflection, or a module function (then `rname` is `name`).
template <class Scope, class Op, class... Extra>
void def_binary(Scope& scope, const char* name, const char* rname, Op f, const Extra&... extra) {
    const std::string what = std::string("operand of ") + name;
    scope.def(name, [f, what](const PyVar& a, py::object b) { return apply_binary(a, b, false, what, f); }, extra...);
    if constexpr (std::is_same_v<Scope, py::module_>)
        scope.def(rname, [f, what](py::object a, const PyVar& b) { return apply_binary(b, a, true, what, f); }, extra...);
    else
        scope.def(rname, [f, what](const PyVar& b, py::object a) { return apply_binary(b, a, true, what, f); }, extra...);
}

// ---- the functions: one table row per op ---------------------------------------------------------

using Unary = Var (*)(const Var&);
using AlongAxis = Var (*)(const Var&, int);

struct UnaryFunction {
    const char* name;
    Unary f;
};
struct BinaryFunction {
    const char* name;
    Binary f;
    const char* x;  // the Python argument names
    const char* y;
};
struct Reduction {
    const char* name;
    Unary all;
    AlongAxis along;
};

void def_functions(py::module_& m, py::class_<PyVar>& var) {
    namespace nn = matgrad::nn;
    const UnaryFunction unary[] = {
        {"sigmoid", matgrad::sigmoid}, {"exp", matgrad::exp},         {"log", matgrad::log},
        {"tanh", matgrad::tanh},       {"relu", matgrad::relu},       {"softplus", matgrad::softplus},
        {"sqrt", matgrad::sqrt},       {"abs", matgrad::abs},         {"sin", matgrad::sin},
        {"cos", matgrad::cos},         {"softmax", matgrad::softmax}, {"log_softmax", matgrad::log_softmax},
        {"tr", matgrad::tr},           {"inv", matgrad::inv},         {"det", matgrad::det},
        {"logdet", matgrad::logdet},   {"norm2", matgrad::norm2},     {"transpose", matgrad::transpose},
    };
    // Either argument may be an array-like; it becomes a constant on the other one's tape.
    const BinaryFunction binary[] = {
        {"matmul", matgrad::matmul, "a", "b"},
        {"binary_cross_entropy", nn::binary_cross_entropy, "A", "Y"},
        {"binary_cross_entropy_with_logits", nn::binary_cross_entropy_with_logits, "Z", "Y"},
        {"softmax_cross_entropy", nn::softmax_cross_entropy, "Z", "Y"},
        {"mse", nn::mse, "A", "T"},
    };
    for (const UnaryFunction& u : unary)
        m.def(u.name, [f = u.f](const PyVar& x) { return x.result(f(x.get())); }, "x"_a);
    for (const BinaryFunction& b : binary)
        def_binary(m, b.name, b.name, b.f, py::arg(b.x), py::arg(b.y));
    // sum(x, axis=None), mean(x, axis=None): numpy's axes with kept dimensions.
    const Reduction reductions[] = {{"sum", matgrad::sum, matgrad::sum}, {"mean", matgrad::mean, matgrad::mean}};
    for (const Reduction& r : reductions) {  // and as methods, numpy's W.sum(), W.mean(axis=0)
        const auto reduce = [r](const PyVar& x, std::optional<int> axis) {
            return x.result(axis ? r.along(x.get(), *axis) : r.all(x.get()));
        };
        m.def(r.name, reduce, "x"_a, "axis"_a = py::none());
        var.def(r.name, reduce, "axis"_a = py::none());
    }
    // x ** p and pow(x, p) for a number p.
    const auto pow = [](const PyVar& x, double p) { return x.result(matgrad::pow(x.get(), p)); };
    m.def("pow", pow, "x"_a, "p"_a);
    var.def("__pow__", pow, py::is_operator());
}

// ---- the classes --------------------------------------------------------------------------------

/// Sets PyTape::in_backward for the duration of backward() (refusing a second one).
class BackwardGuard {
public:
    explicit BackwardGuard(PyTape& t) : t_(t) {
        if (t_.in_backward.exchange(true))
            throw matgrad::UsageError("the tape is running backward() in another thread");
    }
    ~BackwardGuard() { t_.in_backward.store(false); }
    BackwardGuard(const BackwardGuard&) = delete;
    BackwardGuard& operator=(const BackwardGuard&) = delete;

private:
    PyTape& t_;
};

// ---- Model: a model file's values in, gradients / verdicts / equations out -----------------------

namespace lang = matgrad::lang;

/// A {name: array} dict as a name -> Matrix map; `what` names the dict in messages ("values").
std::map<std::string, Matrix> to_values(const py::dict& d, const std::string& what) {
    std::map<std::string, Matrix> values;
    for (const auto& [key, value] : d) {
        const std::string name = py::str(key);
        values[name] = to_matrix(value, what + "['" + name + "']");
    }
    return values;
}

/// Model.bind with the Python spellings of the value options in its messages.
void bind(const lang::Model& model, lang::Values& values, const std::map<std::string, std::size_t>& dims,
          std::optional<std::uint64_t> seed, bool draw_dims = false) {
    lang::BindOptions options;
    options.dims = dims;
    options.seed = seed;
    options.draw_unbound_dims = draw_dims;
    options.describe_value = [](const std::string& name) { return "values['" + name + "']"; };
    options.describe_dim = [](const std::string& dim, std::size_t size) {
        return "dims['" + dim + "'] = " + std::to_string(size);
    };
    options.missing_hint = "seed=S draws missing values at random";
    model.bind(values, options);
}

/// Binds `values`, records the model with the GIL released, and returns as {name: array} the
/// (name, matrix) pairs `collect(tape, recording, results)` gathers (Model.forward, Model.grad).
template <class Collect>
py::dict recorded_dict(const lang::Model& model, const py::dict& values, const std::map<std::string, std::size_t>& dims,
                       std::optional<std::uint64_t> seed, Collect collect) {
    lang::Values v = to_values(values, "values");
    std::vector<std::pair<std::string, Matrix>> results;
    {
        py::gil_scoped_release release;
        bind(model, v, dims, seed);
        Tape tape;
        collect(tape, model.record(tape, v), results);
    }
    py::dict out;
    for (const auto& [name, value] : results) out[py::str(name)] = to_numpy(value);
    return out;
}

/// A declaration's shape as written: (10, 7), ('d', 'n'), or None when the values give it.
py::object declared_shape(const lang::Declaration& d) {
    if (!d.shape) return py::none();
    const auto side = [](const lang::Dim& dim) -> py::object {
        return dim.name.empty() ? py::object(py::int_(dim.value)) : py::object(py::str(dim.name));
    };
    return py::make_tuple(side((*d.shape)[0]), side((*d.shape)[1]));
}

/// {name: shape as written} of the declarations of one kind, in source order.
py::dict declared(const lang::Model& model, lang::Declaration::Kind kind) {
    py::dict shapes;
    for (const lang::Declaration& d : model.declarations())
        if (d.kind == kind) shapes[py::str(d.name)] = declared_shape(d);
    return shapes;
}

/// The model's equations as explain MODEL reads them, and the document's title.
/// (`variable_inputs`: inputs with a hand dX, recorded as variables so that dX has its line.)
std::pair<std::vector<matgrad::ExplainLine>, matgrad::report::Document> model_equations(
    const lang::Model& model, const lang::Values& values, const std::set<std::string>& variable_inputs = {}) {
    std::vector<Matrix> params;
    for (const std::string& name : model.param_names()) params.push_back(values.at(name));
    matgrad::report::Document doc;
    doc.title = model.file() + ": output " + model.output() + ", on the values given.";
    doc.description = "Every equation and shape below is read from the recorded tape.";
    if (!variable_inputs.empty()) return {lang::explain_with_inputs(model, values, variable_inputs), doc};
    return {matgrad::explain(model.loss(values), params, model.param_names()), doc};
}

/// The model's equations as explain MODEL gives them, in `format`.
std::string explain_model(const lang::Model& model, const lang::Values& values, matgrad::report::Format format) {
    const auto [lines, doc] = model_equations(model, values);
    return matgrad::report::render_explanation(lines, format, doc);
}

/// Model.verify's report in the three forms the Python VerifyReport holds: the JSON of `matgrad
/// verify MODEL --json`, the CLI's text, and the LaTeX of --format latex (the equations with
/// each hand gradient's verdict).
struct VerifyForms {
    std::string json, text, latex;
};

VerifyForms render_model_verify(const lang::Model& model, const lang::Values& values,
                                const matgrad::VerifyReport& report, double tol) {
    using matgrad::report::Format;
    using matgrad::report::render_verify;
    std::vector<std::string> names;
    for (const matgrad::GradientReport& g : report.gradients) names.push_back(g.name);
    auto [lines, doc] = model_equations(model, values, model.inputs_with_gradients(names));
    doc.title = "Hand-derived gradients checked against autodiff: " + doc.title;
    const std::string checked_against =
        "the model " + model.file() + ": output " + model.output() + ", on the values given";
    return {render_verify(report, model.file(), tol, {}, Format::json, {}),
            render_verify(report, checked_against, tol, {}, Format::text, {}),
            render_verify(report, checked_against, tol, lines, Format::latex, doc)};
}

/// What Model.explanation returns: the text, and the LaTeX Jupyter typesets.
struct Explanation {
    std::string text, latex;
};

std::string var_repr(const PyVar& v) {
    if (!v.var.valid()) return "<matgrad.Var: stale>";
    const Var& x = v.var;
    return "<matgrad.Var " + (x.name().empty() ? x.describe() : "'" + x.name() + "'") + ": " + x.op() +
           ", " + x.shape_string() + ">";
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "matgrad: reverse-mode autodiff on 2-D float64 matrices (the C++ engine, on numpy arrays)";
    m.attr("__version__") = MATGRAD_VERSION;

    py::register_exception<matgrad::ShapeError>(m, "ShapeError", PyExc_ValueError);
    py::register_exception<matgrad::UsageError>(m, "UsageError", PyExc_RuntimeError);
    py::register_exception<matgrad::NumericalError>(m, "NumericalError", PyExc_FloatingPointError);

    py::class_<PyVar> var(m, "Var", "A node of a Tape; made by Tape.constant/variable and by ops.");
    var.def_property_readonly("value", [](const PyVar& v) {
            py::array_t<double> a = to_numpy(v.get().value());
            a.attr("flags").attr("writeable") = false;  // W.value[...] -= ... would change only a copy
            return a;
        }, "The node's value (a read-only float64 copy; update a param as W = tape.variable(W.value - lr * W.grad)).")
        .def_property_readonly("grad", [](const PyVar& v) { return to_numpy(v.get().grad()); },
                               "d out / d this node after tape.backward(out) (a float64 copy).")
        .def_property("name", [](const PyVar& v) { return v.get().name(); },
                      [](const PyVar& v, std::string name) { v.get().named(std::move(name)); },
                      "The node's name, used by errors, explain, to_dot and trace.")
        .def("named", [](const PyVar& v, std::string name) {
            v.get().named(std::move(name));
            return v;
        }, "name"_a, "Names the node and returns it: Z1 = (W1 @ X + b1).named(\"Z1\").")
        .def_property_readonly("shape", [](const PyVar& v) {
            const auto s = v.get().shape();
            return py::make_tuple(s[0], s[1]);
        })
        .def_property_readonly("T", [](const PyVar& v) { return v.result(matgrad::transpose(v.get())); })
        .def("__neg__", [](const PyVar& v) { return v.result(-v.get()); })
        .def("__abs__", [](const PyVar& v) { return v.result(matgrad::abs(v.get())); })
        .def("__rpow__", [](const PyVar& v, double base) {  // 2 ** W = exp(W log 2)
            if (!(base > 0)) throw matgrad::ShapeError("number ** Var: the base must be positive, got " + std::to_string(base));
            return v.result(matgrad::exp(v.get() * std::log(base)));
        }, py::is_operator())
        .def("__float__", [](const PyVar& v) {
            if (v.get().rows() != 1 || v.get().cols() != 1)
                throw py::type_error("float(): only a 1x1 Var is a number; " + v.get().describe() + " is " +
                                     v.get().shape_string());
            return v.get().value()(0, 0);
        })
        .def("__repr__", var_repr);
    def_binary(var, "__add__", "__radd__", [](const auto& a, const auto& b) { return a + b; }, py::is_operator());
    def_binary(var, "__sub__", "__rsub__", [](const auto& a, const auto& b) { return a - b; }, py::is_operator());
    def_binary(var, "__mul__", "__rmul__", [](const auto& a, const auto& b) { return a * b; }, py::is_operator());
    def_binary(var, "__truediv__", "__rtruediv__", [](const auto& a, const auto& b) { return a / b; }, py::is_operator());
    def_binary(var, "__matmul__", "__rmatmul__", Binary(matgrad::matmul), py::is_operator());

    py::class_<PyTape, std::shared_ptr<PyTape>>(m, "Tape",
        "Records ops on Vars; backward(out) fills every node's gradient. Vars keep their tape alive.")
        .def(py::init<>())
        .def("constant", [](const std::shared_ptr<PyTape>& t, py::object value, std::string name) {
            Matrix v = to_matrix(value, "constant" + (name.empty() ? "" : " " + name));
            return PyVar{t->get().constant(std::move(v), std::move(name)), t};
        }, "value"_a, "name"_a = "", "An input that needs no gradient (data, labels): a 2-D array.")
        .def("variable", [](const std::shared_ptr<PyTape>& t, py::object value, std::string name) {
            Matrix v = to_matrix(value, "variable" + (name.empty() ? "" : " " + name));
            return PyVar{t->get().variable(std::move(v), std::move(name)), t};
        }, "value"_a, "name"_a = "", "A leaf that needs a gradient (a parameter): a 2-D array.")
        .def("backward", [](PyTape& t, const PyVar& out) {
            const Var& o = out.get();
            Tape& tape = t.get();
            BackwardGuard guard(t);
            py::gil_scoped_release release;
            tape.backward(o);
        }, "out"_a, "Reverse pass from the 1x1 `out` (the GIL is released meanwhile).")
        .def("hvp", [](PyTape& t, const PyVar& out, const std::vector<PyVar>& wrt, const std::vector<py::object>& v) {
            std::vector<Var> vars;
            std::vector<Matrix> directions;
            for (std::size_t k = 0; k < wrt.size(); ++k) vars.push_back(wrt[k].get());
            for (std::size_t k = 0; k < v.size(); ++k) directions.push_back(to_matrix(v[k], "v[" + std::to_string(k) + "]"));
            const Var& o = out.get();
            Tape& tape = t.get();
            {
                BackwardGuard guard(t);
                py::gil_scoped_release release;
                tape.hvp(o, vars, directions);
            }
            py::list result;
            for (const Var& x : vars) result.append(to_numpy(x.grad_tangent()));
            return result;
        }, "out"_a, "wrt"_a, "v"_a,
           "Hessian-vector product of the 1x1 `out`: [H v for each Var of `wrt`], v one array per Var (exact,\n"
           "forward-over-reverse). Also leaves every gradient in .grad.")
        .def("clear", [](PyTape& t) { t.get().clear(); }, "Forgets all nodes: existing Vars become stale.")
        .def("to_dot", [](PyTape& t, bool gradient_norms) {
            matgrad::DotOptions options;
            options.gradient_norms = gradient_norms;
            return t.get().to_dot(options);
        }, "gradient_norms"_a = false, "Graphviz DOT of the recorded graph.")
        .def("trace", [](PyTape& t) { return t.get().trace(); }, "A table, one row per node.")
        .def("explain", [](PyTape& t, const PyVar& out) {
            return matgrad::format_explanation(matgrad::explain(t.get(), out.get()));
        }, "out"_a, "The graph as the slides' equations, forward and backward (after backward(out)).")
        .def_property("anomaly_detection", [](PyTape& t) { return t.get().anomaly_detection(); },
                      [](PyTape& t, bool on) { t.get().set_anomaly_detection(on); },
                      "When on, the first NaN/Inf an op produces raises NumericalError.")
        .def_property("timing", [](PyTape& t) { return t.get().timing(); },
                      [](PyTape& t, bool on) { t.get().set_timing(on); }, "Per-node timing for trace().")
        .def("__len__", [](PyTape& t) { return t.get().size(); })
        .def("__repr__", [](PyTape& t) { return "<matgrad.Tape: " + std::to_string(t.tape.size()) + " nodes>"; });

    def_functions(m, var);

    // Models use the nn losses by name (softmax_cross_entropy, mse, ...).
    matgrad::nn::register_losses();

    // lang::Error: a SyntaxError whose message is the formatted one (FILE:LINE:COL: error: ...,
    // the line, a caret), with .file, .line and .column.
    static py::exception<lang::Error> parse_error(m, "ParseError", PyExc_SyntaxError);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const lang::Error& e) {
            py::object error = py::reinterpret_borrow<py::object>(parse_error)(e.formatted());
            error.attr("file") = e.file();
            error.attr("line") = e.line();
            error.attr("column") = e.column();
            // SyntaxError's own fields, which tracebacks, IDEs and linters read.
            error.attr("filename") = e.file();
            if (e.line() > 0) {
                error.attr("lineno") = e.line();
                error.attr("offset") = e.column();
                error.attr("text") = e.source_line();
            }
            PyErr_SetObject(parse_error.ptr(), error.ptr());
        }
    });

    py::class_<Explanation>(m, "Explanation", "A model's equations: str() is the text; Jupyter shows the LaTeX.")
        .def_readonly("text", &Explanation::text)
        .def_readonly("latex", &Explanation::latex)
        .def("__str__", [](const Explanation& e) { return e.text; })
        .def("__repr__", [](const Explanation& e) { return e.text; })
        .def("_repr_latex_", [](const Explanation& e) { return e.latex; });

    using Dims = std::map<std::string, std::size_t>;
    using Seed = std::optional<std::uint64_t>;
    py::class_<lang::Model>(m, "Model", "A model file (the forward equations as text), parsed once.")
        .def(py::init([](const std::string& text, const std::string& file) { return lang::Model::parse(text, file); }),
             "text"_a, "file"_a = "<model>", "Parses a model; errors raise ParseError (a SyntaxError).")
        .def_static("from_file", [](const py::object& path) {
            // As the CLI reads a model file: at most kMaxTextFileBytes, so a device or a huge file is
            // refused instead of read to its end (open's own errors, FileNotFoundError, stay).
            const std::string name = py::str(path).cast<std::string>();
            const py::object file = py::module_::import("builtins").attr("open")(path, "rb");
            std::string text;
            try {
                text = file.attr("read")(matgrad::io::kMaxTextFileBytes + 1).cast<std::string>();
            } catch (...) {
                file.attr("close")();
                throw;
            }
            file.attr("close")();
            if (text.size() > matgrad::io::kMaxTextFileBytes)
                throw py::value_error(name + ": larger than " + std::to_string(matgrad::io::kMaxTextFileBytes >> 20) +
                                      " MiB, the most a model file may hold");
            return lang::Model::parse(text, name);
        }, "path"_a, "Parses the model file at `path` (errors name it; at most 16 MiB is read).")
        .def_property_readonly("inputs", [](const lang::Model& model) {
            return declared(model, lang::Declaration::Kind::input);
        }, "{name: shape as written} of the inputs, in source order.")
        .def_property_readonly("params", [](const lang::Model& model) {
            return declared(model, lang::Declaration::Kind::param);
        }, "{name: shape as written} of the params (the leaves that get a gradient), in source order.")
        .def_property_readonly("nodes", [](const lang::Model& model) {
            std::vector<std::string> names;
            for (const lang::Assignment& a : model.assignments()) names.push_back(a.name);
            return names;
        }, "The named nodes, in source order.")
        .def_property("output", &lang::Model::output, &lang::Model::set_output,
                      "The output node's name (the last assignment; set another 1x1 node's name to change it).")
        .def("forward", [](const lang::Model& model, const py::dict& values, const Dims& dims, Seed seed) {
            return recorded_dict(model, values, dims, seed, [&](Tape&, const lang::Recording& r, auto& results) {
                for (const lang::Declaration& d : model.declarations()) results.emplace_back(d.name, r.var(d.name).value());
                for (const lang::Assignment& a : model.assignments()) results.emplace_back(a.name, r.var(a.name).value());
            });
        }, "values"_a, "dims"_a = Dims{}, "seed"_a = py::none(),
           "{name: value} of every declared name and named node (A1, A2, J, ...), from {name: 2-D array}\n"
           "(with `seed`, missing ones drawn): a hand formula can use them without a forward pass of its own.")
        .def("grad", [](const lang::Model& model, const py::dict& values, const Dims& dims, Seed seed) {
            return recorded_dict(model, values, dims, seed, [&](Tape& tape, const lang::Recording& r, auto& results) {
                tape.backward(r.output());
                results.emplace_back(model.output(), r.output().value());
                for (const auto& [name, param] : r.params()) results.emplace_back("d" + name, param.grad());
            });
        }, "values"_a, "dims"_a = Dims{}, "seed"_a = py::none(),
           "{output: its value, 'd<param>': its gradient} from {name: 2-D array} for every declared name\n"
           "(with `seed`, missing ones are drawn at random). The GIL is released meanwhile.")
        .def("hessian", [](const lang::Model& model, const py::dict& values, std::optional<std::vector<std::string>> wrt,
                           const Dims& dims, Seed seed) {
            lang::Values v = to_values(values, "values");
            Matrix h;
            {
                py::gil_scoped_release release;
                bind(model, v, dims, seed);
                h = model.hessian(v, wrt.value_or(std::vector<std::string>{}));
            }
            return to_numpy(h);
        }, "values"_a, "wrt"_a = py::none(), "dims"_a = Dims{}, "seed"_a = py::none(),
           "The exact Hessian of the output (n x n): over the params in declaration order, or over `wrt`\n"
           "in the order given, each param flattened row-major.")
        .def("hvp", [](const lang::Model& model, const py::dict& values, const py::dict& v, const Dims& dims, Seed seed) {
            lang::Values x = to_values(values, "values");
            const lang::Values directions = to_values(v, "v");
            lang::Values hv;
            {
                py::gil_scoped_release release;
                bind(model, x, dims, seed);
                hv = model.hvp(x, directions);
            }
            py::dict out;
            for (const auto& [name, value] : hv) out[py::str(name)] = to_numpy(value);
            return out;
        }, "values"_a, "v"_a, "dims"_a = Dims{}, "seed"_a = py::none(),
           "{param: (H v) block, shaped like the param} for directions v = {param: array} (params not in\n"
           "v stay fixed).")
        .def("verify", [](const lang::Model& model, const py::dict& values, const py::object& hand, double tol,
                          const Dims& dims, Seed seed) {
            lang::Values v = to_values(values, "values");
            // A str is a derivation (dW1 = dZ1 * Xᵀ, ...), a dict the gradients' values.
            const bool derivation = py::isinstance<py::str>(hand);
            const std::string text = derivation ? hand.cast<std::string>() : "";
            // A 1-D array stands for the column or the row of its length, as a 1-D .npy file does for
            // the CLI: read as the column, and verify matches it to the gradient's row too.
            std::set<std::string> one_dimensional;
            py::dict columns;
            if (!derivation)
                for (const auto& [key, value] : hand.cast<py::dict>()) {
                    const py::array a = py::module_::import("numpy").attr("asarray")(value);
                    if (a.ndim() == 1) one_dimensional.insert(py::str(key).cast<std::string>());
                    columns[key] = a.ndim() == 1 ? a.attr("reshape")(-1, 1) : py::object(a);
                }
            const std::map<std::string, Matrix> h =
                derivation ? std::map<std::string, Matrix>{} : to_values(columns, "hand");
            // float32 arrays hold only float32's precision: the CLI's rule for float32 files, and its note.
            std::vector<std::string> single;
            if (!derivation)
                for (const auto& [key, value] : hand.cast<py::dict>())
                    if (py::isinstance<py::array>(value) && value.cast<py::array>().dtype().kind() == 'f' &&
                        value.cast<py::array>().dtype().itemsize() == 4)  // either byte order
                        single.push_back("hand['" + py::str(key).cast<std::string>() + "']");
            const std::string note = matgrad::float32_tolerance(single, tol);
            if (!note.empty() && PyErr_WarnEx(PyExc_UserWarning, note.c_str(), 1) < 0)
                throw py::error_already_set();  // warnings filtered to errors
            VerifyForms forms;
            {
                py::gil_scoped_release release;
                bind(model, v, dims, seed, derivation);
                matgrad::VerifyOptions options;
                options.tol = tol;
                options.one_dimensional = one_dimensional;
                if (derivation) {
                    forms = render_model_verify(model, v, lang::Derivation::parse(text, "<hand>", model).verify(v, options), tol);
                } else {
                    std::vector<std::string> names;
                    for (const auto& [name, value] : h) names.push_back(name);
                    Tape tape;  // an input with a hand dX is a variable here, as in the CLI
                    const lang::Recording r = model.record(tape, v, {}, model.inputs_with_gradients(names));
                    forms = render_model_verify(model, v, matgrad::verify(tape, r.output(), h, options), tol);
                }
            }
            // matgrad.VerifyReport (python/matgrad/__init__.py): the JSON's dict, with the text and LaTeX.
            return py::module_::import("matgrad").attr("VerifyReport")(
                py::module_::import("json").attr("loads")(forms.json), forms.text, forms.latex);
        }, "values"_a, "hand"_a, "tol"_a = 1e-8, "dims"_a = Dims{}, "seed"_a = py::none(),
           "Diagnoses hand gradients {'dW1': array, 'dZ1': array, ...} (params or named nodes), or a\n"
           "derivation as text ('dZ2 = (A2 - Y) / 7\\ndW2 = dZ2 * A1ᵀ', judged line by line: value and step,\n"
           "as `matgrad verify MODEL --hand FILE.mg`; unbound dimensions drawn distinct): a VerifyReport, the\n"
           "dict of `matgrad verify MODEL --json` whose str() is the CLI's text report and whose LaTeX (the\n"
           "equations with each verdict) Jupyter typesets.")
        .def("derive", [](const lang::Model& model, const std::string& format, const py::object& values,
                          const Dims& dims, Seed seed) {
            if (format != "mg" && format != "numpy")
                throw std::invalid_argument("derive: format must be 'mg' or 'numpy', not '" + format + "'");
            lang::Values v = values.is_none() ? lang::Values{} : to_values(values.cast<py::dict>(), "values");
            if (values.is_none() && !seed) seed = 1;  // only the shapes matter
            py::gil_scoped_release release;
            bind(model, v, dims, seed, true);
            return model.derive(v, format == "numpy" ? lang::Model::DeriveFormat::numpy : lang::Model::DeriveFormat::mg);
        }, "format"_a = "mg", "values"_a = py::none(), "dims"_a = Dims{}, "seed"_a = py::none(),
           "The right derivation as text, as `matgrad derive MODEL`: format 'mg' a derivation file that\n"
           "verify() finds all right, 'numpy' a Python module defining gradients(values). The values give\n"
           "the shapes only (none given: drawn with seed 1; unbound dimensions drawn distinct).")
        .def("explain", [](const lang::Model& model, const py::dict& values, const Dims& dims, Seed seed) {
            lang::Values v = to_values(values, "values");
            bind(model, v, dims, seed);
            return explain_model(model, v, matgrad::report::Format::text);
        }, "values"_a, "dims"_a = Dims{}, "seed"_a = py::none(), "The equations, forward and backward, as text.")
        .def("explanation", [](const lang::Model& model, const py::dict& values, const Dims& dims, Seed seed) {
            lang::Values v = to_values(values, "values");
            bind(model, v, dims, seed);
            return Explanation{explain_model(model, v, matgrad::report::Format::text),
                               explain_model(model, v, matgrad::report::Format::latex)};
        }, "values"_a, "dims"_a = Dims{}, "seed"_a = py::none(),
           "The equations as an Explanation: str() is explain()'s text, Jupyter typesets the LaTeX.")
        .def("__repr__", [](const lang::Model& model) {
            return "<matgrad.Model " + model.file() + ": output " + model.output() + ">";
        });

    py::class_<matgrad::GradcheckResult>(m, "GradcheckResult")
        .def_readonly("ok", &matgrad::GradcheckResult::ok)
        .def_readonly("max_error", &matgrad::GradcheckResult::max_error)
        .def_readonly("worst_input", &matgrad::GradcheckResult::worst_input)
        .def_readonly("worst_row", &matgrad::GradcheckResult::worst_row)
        .def_readonly("worst_col", &matgrad::GradcheckResult::worst_col)
        .def_readonly("autodiff", &matgrad::GradcheckResult::autodiff)
        .def_readonly("numeric", &matgrad::GradcheckResult::numeric)
        .def_readonly("message", &matgrad::GradcheckResult::message)
        .def("__bool__", [](const matgrad::GradcheckResult& r) { return r.ok; })
        .def("__repr__", [](const matgrad::GradcheckResult& r) { return "<" + r.message + ">"; });

    m.def("gradcheck", [](py::function f, const std::vector<py::object>& arrays, double tol, double eps) {
        std::vector<Matrix> inputs;
        for (std::size_t i = 0; i < arrays.size(); ++i)
            inputs.push_back(to_matrix(arrays[i], "gradcheck input " + std::to_string(i)));
        const matgrad::GraphBuilder builder = [&f](Tape&, const std::vector<Var>& vars) {
            py::tuple args(vars.size());
            for (std::size_t i = 0; i < vars.size(); ++i) args[i] = py::cast(PyVar{vars[i], nullptr});
            const py::object out = f(*args);
            if (!py::isinstance<PyVar>(out))  // not pybind11's "Unable to cast Python instance..."
                throw py::type_error("gradcheck: f must return a 1x1 matgrad.Var computed from the Vars it is given "
                                     "(e.g. mg.sum(x * x)), not " + std::string(py::str(py::type::of(out).attr("__name__"))) +
                                     " " + std::string(py::repr(out)));
            return out.cast<const PyVar&>().get();
        };
        return matgrad::gradcheck(builder, inputs, tol, eps);
    }, "f"_a, "arrays"_a, "tol"_a = 1e-6, "eps"_a = 1e-6,
       "Compares backward() of f(*vars) (a 1x1 Var) with central finite differences at `arrays`.");
}
