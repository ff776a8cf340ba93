// A parsed model: its declarations and named nodes, binding values to them, and recording it on a
// tape -- one walk over the parsed expression trees per record, every operator mapped onto the
// engine's ops (functions through the op registry).
#include "program.hpp"

#include <autodiff/registry.hpp>
#include <autodiff/ops.hpp>
#include <autodiff/second_order.hpp>
#include <nn/init.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace matgrad::lang {

namespace {

std::string error_prefix(const std::string& file, std::size_t line, std::size_t column) {
    return line == 0 ? file + ": error: "
                     : file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": error: ";
}

}  // namespace

Error::Error(std::string file, std::size_t line, std::size_t column, std::string message, std::string source_line)
    : std::runtime_error(error_prefix(file, line, column) + message),
      file_(std::move(file)),
      line_(line),
      column_(column),
      message_(std::move(message)),
      source_line_(std::move(source_line)) {}

namespace {

/// A control byte (C0, DEL) as the echo shows it: \x1B. Sent raw, it could drive the terminal.
bool control_byte(unsigned char b) { return (b < 0x20 && b != '\t') || b == 0x7f; }

/// A C1 control (U+0080..U+009F, UTF-8 C2 80..C2 9F) at line[i], which terminals also obey.
bool c1_control(const std::string& line, std::size_t i) {
    return static_cast<unsigned char>(line[i]) == 0xC2 && i + 1 < line.size() &&
           static_cast<unsigned char>(line[i + 1]) >= 0x80 && static_cast<unsigned char>(line[i + 1]) <= 0x9F;
}

}  // namespace

std::string Error::formatted() const {
    std::string text = what();
    if (line_ == 0) return text;
    // The line with its control bytes escaped, and a caret under the column's character (one column
    // per character: UTF-8 continuation bytes take none, an escaped byte four).
    std::string shown, caret;
    for (std::size_t i = 0; i < source_line_.size(); ++i) {
        const auto b = static_cast<unsigned char>(source_line_[i]);
        std::string piece(1, source_line_[i]);
        std::size_t width = (b & 0xC0) == 0x80 ? 0 : 1;
        const std::size_t bytes = c1_control(source_line_, i) ? 2 : control_byte(b) ? 1 : 0;
        if (bytes > 0) {
            piece.clear();
            for (std::size_t k = 0; k < bytes; ++k) {
                char hex[8];
                std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned char>(source_line_[i + k]));
                piece += hex;
            }
            width = piece.size();
        }
        if (i + 1 < column_) caret.append(width, b == '\t' ? '\t' : ' ');  // tabs keep the caret aligned
        shown += piece;
        i += bytes > 1 ? bytes - 1 : 0;
    }
    caret.append(column_ > source_line_.size() + 1 ? column_ - source_line_.size() - 1 : 0, ' ');
    return text + "\n  " + shown + "\n  " + caret + "^";
}

Error Model::Impl::error(std::size_t line, std::size_t column, const std::string& message) const {
    return Error(file, line, column, message, line >= 1 && line <= lines.size() ? lines[line - 1] : "");
}

// ---- Model

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::parse(std::string_view source, std::string file) {
    auto impl = std::make_unique<Impl>();
    impl->file = std::move(file);
    impl->source = std::string(source);
    parse_program(*impl);
    for (std::uint32_t k = 0; k < impl->declarations.size(); ++k) impl->declarations_by_name.push_back(k);
    std::sort(impl->declarations_by_name.begin(), impl->declarations_by_name.end(),
              [&](std::uint32_t a, std::uint32_t b) { return impl->declarations[a].name < impl->declarations[b].name; });
    return Model(std::move(impl));
}

const std::string& Model::file() const { return impl_->file; }
const std::string& Model::source() const { return impl_->source; }
const std::vector<Declaration>& Model::declarations() const { return impl_->declarations; }
const std::vector<Assignment>& Model::assignments() const { return impl_->assignments; }
const std::string& Model::output() const { return impl_->slot_name(impl_->output_slot); }

const Declaration* Model::find_declaration(const std::string& name) const {
    const auto it = impl_->slots.find(name);
    return it != impl_->slots.end() && it->second < impl_->declarations.size() ? &impl_->declarations[it->second]
                                                                                : nullptr;
}

std::set<std::string> Model::inputs_with_gradients(const std::vector<std::string>& gradients) const {
    std::set<std::string> inputs;
    for (const std::string& g : gradients) {
        const Declaration* d = g.size() > 1 && g[0] == 'd' ? find_declaration(g.substr(1)) : nullptr;
        if (d != nullptr && d->kind == Declaration::Kind::input) inputs.insert(d->name);
    }
    return inputs;
}

std::vector<ExplainLine> explain_with_inputs(const Model& model, const Values& values,
                                             const std::set<std::string>& variable_inputs, std::string* dot) {
    Tape tape;
    const Recording r = model.record(tape, values, {}, variable_inputs);
    tape.backward(r.output());
    if (dot != nullptr) *dot = tape.to_dot();
    return explain(tape, r.output());
}

std::size_t Model::index_of(const std::string& name) const {
    const auto it = impl_->slots.find(name);
    if (it == impl_->slots.end()) throw std::out_of_range("the model has no node named '" + name + "'");
    return it->second;
}

void Model::set_output(const std::string& name) {
    const auto it = impl_->slots.find(name);
    if (it != impl_->slots.end() && it->second >= impl_->declarations.size()) {
        impl_->output_slot = it->second;
        return;
    }
    std::string named;
    for (const Assignment& a : impl_->assignments) named += (named.empty() ? "" : ", ") + a.name;
    throw impl_->error(0, 0, it != impl_->slots.end()
                                 ? "'" + name + "' is declared, not computed: the output must be a named node (" + named + ")"
                                 : "there is no named node '" + name + "' to make the output (named nodes: " + named + ")");
}

// ---- binding values

std::map<std::string, std::size_t> Model::bind(Values& values, const BindOptions& options) const {
    const Impl& m = *impl_;
    auto describe = [&](const std::string& name) {
        return options.describe_value ? options.describe_value(name) : "the value of " + name;
    };
    for (const auto& [name, value] : values)
        if (find_declaration(name) == nullptr)
            throw m.error(0, 0, "a value was given for '" + name + "', which the model does not declare");

    // Each bound dimension remembers who bound it, for the message when another value disagrees.
    std::map<std::string, std::size_t> dims;
    std::map<std::string, std::string> bound_by;
    for (const auto& [dim, size] : options.dims) {
        dims[dim] = size;
        bound_by[dim] = options.describe_dim ? options.describe_dim(dim, size)
                                             : dim + " = " + std::to_string(size) + " (given)";
    }
    std::map<std::string, bool> used;
    for (const Declaration& d : m.declarations)
        if (d.shape)
            for (const Dim& dim : *d.shape)
                if (!dim.name.empty()) used[dim.name] = true;
    for (const auto& [dim, size] : options.dims) {
        if (!used.count(dim)) throw m.error(0, 0, "the model has no dimension named '" + dim + "'");
        if (size == 0) throw m.error(0, 0, bound_by[dim] + ": a dimension's size must be at least 1");
    }

    for (const Declaration& d : m.declarations) {
        const auto it = values.find(d.name);
        if (it == values.end() || !d.shape) continue;
        const std::string given = describe(d.name) + " is " + shape_string(it->second);
        for (std::size_t axis = 0; axis < 2; ++axis) {
            const Dim& dim = (*d.shape)[axis];
            const std::size_t size = it->second.shape(axis);
            if (dim.name.empty()) {
                if (size != dim.value)
                    throw m.error(dim.line, dim.column, given + " but " + d.name + " is declared " +
                                                            (*d.shape)[0].text() + " x " + (*d.shape)[1].text());
            } else if (const auto b = dims.find(dim.name); b == dims.end()) {
                dims[dim.name] = size;
                bound_by[dim.name] = dim.name + " = " + std::to_string(size) + " from " + describe(d.name);
            } else if (b->second != size) {
                throw m.error(dim.line, dim.column, given + " but " + bound_by[dim.name] + " (" + d.name +
                                                        " is declared " + (*d.shape)[0].text() + " x " +
                                                        (*d.shape)[1].text() + ")");
            }
        }
    }

    // Then the missing values: every shape is worked out and checked first (so nothing is drawn
    // for a model that cannot be), then drawn with a seed in declaration order (so a seed always
    // gives the same values); an error without a seed.
    std::optional<nn::Rng> rng;
    if (options.seed) rng.emplace(*options.seed);
    if (rng && options.draw_unbound_dims) {
        std::vector<std::size_t> taken;
        for (const auto& [dim, size] : dims) taken.push_back(size);
        for (const Declaration& d : m.declarations)
            if (d.shape)
                for (const Dim& dim : *d.shape)
                    if (dim.name.empty()) taken.push_back(dim.value);
        for (const Declaration& d : m.declarations)
            if (d.shape && !values.count(d.name))
                for (const Dim& dim : *d.shape)
                    if (!dim.name.empty() && !dims.count(dim.name)) {
                        std::size_t size = 2;
                        while (std::find(taken.begin(), taken.end(), size) != taken.end()) ++size;
                        dims[dim.name] = size;
                        bound_by[dim.name] = dim.name + " = " + std::to_string(size) + " (drawn)";
                        taken.push_back(size);
                    }
    }
    std::vector<std::pair<const Declaration*, std::array<std::size_t, 2>>> draws;
    for (const Declaration& d : m.declarations) {
        if (values.count(d.name)) continue;
        const std::string kind = d.kind == Declaration::Kind::input ? "input " : "param ";
        if (!rng)
            throw m.error(d.line, d.column, "no value for " + kind + d.name + ": " + describe(d.name) +
                                                " is missing (" + options.missing_hint + ")");
        if (!d.shape)
            throw m.error(d.line, d.column, "no value for " + kind + d.name + " and no shape to draw one: declare " +
                                                d.name + " : R x C or give " + describe(d.name));
        std::array<std::size_t, 2> shape{};
        std::string from;  // where named dimensions got their sizes, for a size error
        for (std::size_t axis = 0; axis < 2; ++axis) {
            const Dim& dim = (*d.shape)[axis];
            if (dim.name.empty()) {
                shape[axis] = dim.value;
            } else if (const auto b = dims.find(dim.name); b != dims.end()) {
                shape[axis] = b->second;
                if (axis == 0 || dim.name != (*d.shape)[0].name) from += (from.empty() ? "" : ", ") + bound_by[dim.name];
            } else {
                throw m.error(dim.line, dim.column, "unbound dimension '" + dim.name + "' in the shape of " + d.name +
                                                        ": give its size (e.g. --dim " + dim.name +
                                                        "=N) or a value that has it");
            }
        }
        if (const std::string problem = matrix_size_problem(shape[0], shape[1]); !problem.empty())
            throw m.error(d.line, d.column, kind + d.name + " : " + (*d.shape)[0].text() + " x " + (*d.shape)[1].text() +
                                                (from.empty() ? "" : " (" + from + ")") + ": " + problem);
        draws.emplace_back(&d, shape);
    }
    for (const auto& [declaration, shape] : draws) {
        const Declaration& d = *declaration;
        Matrix value;
        if (d.kind == Declaration::Kind::input) {
            value = Matrix(shape);
            for (double& x : value) x = rng->uniform();  // U(0, 1): valid labels, probabilities, logs
        } else {
            value = nn::random_normal(shape[0], shape[1], *rng, 1.0 / std::sqrt(static_cast<double>(shape[1])));
        }
        values.emplace(d.name, std::move(value));
    }
    return dims;
}

// ---- recording

namespace {

// On values, not Vars: each Var accessor re-checks that its tape is alive, and these run per node per step.
bool broadcastable(const Matrix& a, const Matrix& b) {
    for (std::size_t axis = 0; axis < 2; ++axis) {
        const std::size_t x = a.shape(axis), y = b.shape(axis);
        if (x != y && x != 1 && y != 1) return false;
    }
    return true;
}

bool is_scalar(const Matrix& v) { return v.size() == 1; }

/// Walks the expression trees of one model onto one tape.
class Recorder {
public:
    Recorder(const Model::Impl& m, Tape& tape, std::vector<Var>& slots) : m_(m), tape_(tape), slots_(slots) {
        // The dimensions' sizes, read off the declared values' shapes (bind checked they agree).
        if (!m.dims.empty()) {
            dims_.assign(m.dims.size(), 0.0);
            for (std::size_t k = 0; k < m.declarations.size(); ++k)
                if (const auto& shape = m.declarations[k].shape)
                    for (std::size_t axis = 0; axis < 2; ++axis)
                        if (!(*shape)[axis].name.empty())
                            dims_[std::find(m.dims.begin(), m.dims.end(), (*shape)[axis].name) - m.dims.begin()] =
                                static_cast<double>(slots[k].value().shape(axis));
        }
        // One argument buffer per call depth, kept across records (per thread: a Model may be shared).
        thread_local std::vector<std::vector<Var>> buffers;
        if (buffers.size() < m.max_call_depth) buffers.resize(m.max_call_depth);
        buffers_ = &buffers;
        thread_local std::vector<Var> evaluated;  // each node's result in this record, for error messages
        if (evaluated.size() < m.nodes.size()) evaluated.resize(m.nodes.size());
        evaluated_ = &evaluated;
    }

    std::vector<NodeInfo>* info = nullptr;  // when set: every node's shape and need of a gradient

    Var eval(std::uint32_t index) {
        const Node& n = m_.nodes[index];
        try {
            Var v = eval_node(n);
            (*evaluated_)[index] = v;
            if (info != nullptr) (*info)[index] = {v.rows(), v.cols(), v.requires_grad()};
            return v;
        } catch (const std::logic_error& e) {  // ShapeError, UsageError: the op's own message
            throw m_.error(n.line, n.column, m_.text(n) + ": " + e.what());
        } catch (const NumericalError& e) {  // a singular inv, or anomaly detection's first NaN/Inf
            throw m_.error(n.line, n.column, m_.text(n) + ": " + e.what() + operand_ranges(n));
        }
    }

private:
    Var eval_node(const Node& n) {
        switch (n.kind) {
            case NodeKind::number: return tape_.constant(n.number);
            case NodeKind::ref: return slots_[n.slot];
            case NodeKind::dim: return tape_.constant(dims_[n.slot]);
            case NodeKind::neg: return -eval(n.children[0]);
            case NodeKind::transpose: return transpose(eval(n.children[0]));
            case NodeKind::binary: return binary(n);
            case NodeKind::call: break;
        }
        std::vector<Var>& args = (*buffers_)[n.call_depth];
        if (n.children.size() == 1) {  // evaluated first: S⁻¹'s operand may use the same buffer
            const Var v = eval(n.children[0]);
            args.assign(1, v);
            return apply(n, args);
        }
        args.clear();
        for (const std::uint32_t child : n.children) {
            const Var v = eval(child);  // nested calls use deeper buffers
            args.push_back(v);
        }
        return apply(n, args);
    }

    Var apply(const Node& n, const std::vector<Var>& args) const {
        if (n.derivative) return derivative(n, args);
        return apply_op(*n.function, args, n.numbers);
    }

    /// "; W - W is in [0, 0]" per operand that is not a number: what a non-finite result came from.
    std::string operand_ranges(const Node& n) const {
        std::string text;
        for (const std::uint32_t child : n.children) {
            if (m_.nodes[child].kind == NodeKind::number) continue;
            const Matrix& v = (*evaluated_)[child].value();
            const auto [low, high] = std::minmax_element(v.begin(), v.end());
            char range[80];
            std::snprintf(range, sizeof range, " is in [%.6g, %.6g]", *low, *high);
            text += "; " + m_.text(m_.nodes[child]) + range;
        }
        return text;
    }

    // f'(x) of an element-wise f (the parser checked): the gradient of Σ f(x) is f'(x) entry by entry,
    // from f's own VJP. A value, not differentiable: derivations are evaluated, never differentiated.
    Var derivative(const Node& n, const std::vector<Var>& args) const {
        if (args.size() != 1) throw UsageError(std::string(n.function->name) + "' takes one matrix");
        Tape local;
        const Var x = local.variable(args[0].value());
        local.backward(sum(apply_op(*n.function, {x}, n.numbers)));
        return tape_.constant(x.grad());
    }

    [[noreturn]] void shape_error(const Node& n, const Var& a, const Var& b, const std::string& why) const {
        const Node &x = m_.nodes[n.children[0]], &y = m_.nodes[n.children[1]];
        throw m_.error(n.line, n.column, m_.text(n) + ": " + m_.text(x) + " is " + a.shape_string() + " but " +
                                             m_.text(y) + " is " + b.shape_string() + " (" + why + ")");
    }

    [[noreturn]] void not_scalar(const Node& n, const Node& operand, const Var& v, const std::string& rule) const {
        throw m_.error(n.line, n.column, m_.text(n) + ": " + m_.text(operand) + " is " + v.shape_string() + ", but " + rule);
    }

    Var binary(const Node& n) {
        const Node &x = m_.nodes[n.children[0]], &y = m_.nodes[n.children[1]];
        if (n.op == BinaryOp::power || n.op == BinaryOp::scalar_power) {  // the exponent is a number (parser)
            const Var base = eval(n.children[0]);
            if (n.op == BinaryOp::scalar_power && !is_scalar(base.value()))
                not_scalar(n, x, base, "^ is the power of a 1x1 (use .^ for the element-wise power)");
            std::vector<Var>& args = (*buffers_)[n.call_depth];
            args.assign(1, base);
            return apply(n, args);
        }
        if (x.kind == NodeKind::number) {  // number (op) matrix
            const double a = x.number;
            const Var b = eval(n.children[1]);
            switch (n.op) {
                case BinaryOp::add: return a + b;
                case BinaryOp::sub: return a - b;
                case BinaryOp::scalar_div:
                    if (!is_scalar(b.value()))
                        not_scalar(n, y, b, "/ divides by a number or 1x1 (use ./ for element-wise division)");
                    return a / b;
                case BinaryOp::div: return a / b;
                default: return a * b;  // * and .* scale; @ with a number is refused by the parser
            }
        }
        const Var a = eval(n.children[0]);
        if (y.kind == NodeKind::number) {  // matrix (op) number
            const double b = y.number;
            switch (n.op) {
                case BinaryOp::add: return a + b;
                case BinaryOp::sub: return a - b;
                case BinaryOp::div:
                case BinaryOp::scalar_div: return a / b;
                default: return a * b;
            }
        }
        const Var b = eval(n.children[1]);
        const Matrix &av = a.value(), &bv = b.value();
        switch (n.op) {
            case BinaryOp::product:
                if (is_scalar(av) || is_scalar(bv)) return a * b;  // * scales by a 1x1
                [[fallthrough]];
            case BinaryOp::matmul:
                if (av.shape(1) != bv.shape(0))
                    // Equal shapes: most likely an element-wise product meant, as the slides write
                    // σ'(Z) = A(1 − A) -- while their dW = dZ Aᵀ is the matrix product.
                    shape_error(n, a, b, "inner dimensions " + std::to_string(av.shape(1)) + " and " +
                                             std::to_string(bv.shape(0)) + " differ" +
                                             (n.op == BinaryOp::product && a.shape() == b.shape() ? "; * and juxtaposition are the matrix product, "
                                                                       "for the element-wise product write ⊙ (or .*)"
                                                                     : ""));
                return matmul(a, b);
            case BinaryOp::scalar_div:
                if (!is_scalar(bv)) not_scalar(n, y, b, "/ divides by a number or 1x1 (use ./ for element-wise division)");
                return a / b;
            default: break;
        }
        if (!broadcastable(av, bv)) shape_error(n, a, b, "not broadcastable: each dimension must agree or be 1");
        switch (n.op) {
            case BinaryOp::add: return a + b;
            case BinaryOp::sub: return a - b;
            case BinaryOp::mul: return a * b;
            default: return a / b;  // ./
        }
    }

    const Model::Impl& m_;
    Tape& tape_;
    std::vector<Var>& slots_;
    std::vector<std::vector<Var>>* buffers_;
    std::vector<double> dims_;  // by Impl::dims
    std::vector<Var>* evaluated_;

public:
    /// Each node's result in the last eval(), by model node index (for error messages).
    const std::vector<Var>& evaluated() const { return *evaluated_; }
};

}  // namespace

void record_info(const Model::Impl& impl, Tape& tape, std::vector<Var>& slots, std::vector<NodeInfo>& info) {
    info.assign(impl.nodes.size(), {});
    Recorder recorder(impl, tape, slots);
    recorder.info = &info;
    for (const std::uint32_t root : impl.roots) slots.push_back(recorder.eval(root));
}

std::string Model::derive(const Values& values, DeriveFormat format) const {
    Tape tape;
    const Recording r = record(tape, values);  // checks the values and the output
    std::vector<Var> slots(r.slots_.begin(), r.slots_.begin() + static_cast<std::ptrdiff_t>(impl_->declarations.size()));
    std::vector<NodeInfo> info;
    record_info(*impl_, tape, slots, info);
    // A briefer text is taken only if it is judged all right against autodiff on these values.
    const auto right = [&](const std::string& text) {
        try {
            const VerifyReport r = Derivation::parse(text, "derive", *this).verify(values);
            return r.ok() &&
                   std::all_of(r.gradients.begin(), r.gradients.end(), [](const GradientReport& g) { return g.step == "ok"; }) &&
                   std::all_of(r.helpers.begin(), r.helpers.end(), [](const HelperReport& h) { return h.error.empty(); });
        } catch (const std::exception&) {  // the full text, which needs no such check, is kept
            return false;
        }
    };
    const std::string key = derive_text(*impl_, info, slots, right);
    return format == DeriveFormat::mg ? key : numpy_module(*this, *impl_, info, slots, tape, key);
}

Var evaluate(const Model::Impl& impl, Tape& tape, std::vector<Var>& slots, std::uint32_t root,
             std::vector<NodeInfo>* info) {
    Recorder recorder(impl, tape, slots);
    recorder.info = info;
    return recorder.eval(root);
}

Recording Model::record(Tape& tape, const Values& values) const { return record(tape, values, {}); }

Recording Model::record(Tape& tape, const Values& values, const std::vector<Var>& params,
                         const std::set<std::string>& variable_inputs) const {
    const Impl& m = *impl_;
    Recording r;
    r.model_ = this;
    r.slots_.reserve(m.declarations.size() + m.assignments.size());
    // Both the map and declarations_by_name are sorted by name: one merge walk finds every value
    // (half the string comparisons of a find() per name, and this runs every step).
    thread_local std::vector<const Matrix*> found;
    found.assign(m.declarations.size(), nullptr);
    auto it = values.begin();
    for (const std::uint32_t k : m.declarations_by_name) {
        int order = -1;
        while (it != values.end() && (order = it->first.compare(m.declarations[k].name)) < 0) ++it;
        if (order == 0) found[k] = &it->second;
    }
    std::size_t param = 0;
    std::size_t differentiated = 0;  // inputs of variable_inputs met
    for (std::size_t k = 0; k < m.declarations.size(); ++k) {
        const Declaration& d = m.declarations[k];
        if (d.kind == Declaration::Kind::param && !params.empty()) {
            if (param == params.size())
                throw std::invalid_argument("Model::record: " + std::to_string(params.size()) +
                                            " params given, the model has more");
            r.slots_.push_back(params[param++]);
            continue;
        }
        if (found[k] == nullptr) throw m.error(d.line, d.column, "no value for " + d.name);
        bool variable = d.kind == Declaration::Kind::param;
        if (!variable && !variable_inputs.empty() && variable_inputs.count(d.name) > 0) {
            variable = true;
            ++differentiated;
        }
        r.slots_.push_back(variable ? tape.variable(*found[k], d.name) : tape.constant(*found[k], d.name));
    }
    if (differentiated != variable_inputs.size())
        for (const std::string& name : variable_inputs) {
            const Declaration* d = find_declaration(name);
            if (d == nullptr || d->kind != Declaration::Kind::input)
                throw std::invalid_argument("Model::record: '" + name + "' is not an input of " + m.file +
                                            ", so it cannot be recorded as a variable input");
        }
    if (param != params.size())
        throw std::invalid_argument("Model::record: " + std::to_string(params.size()) + " params given, the model has " +
                                    std::to_string(param));
    Recorder recorder(m, tape, r.slots_);
    for (std::size_t k = 0; k < m.assignments.size(); ++k) {
        const std::uint32_t root = m.roots[k];
        Var v = recorder.eval(root);
        // A bare name (B = A) is the same node: naming it would rename A.
        if (m.nodes[root].kind != NodeKind::ref) v.named(m.assignments[k].name);
        r.slots_.push_back(v);
    }
    if (tape.anomaly_detection())  // which op each tape node is, for a backward's NumericalError
        for (std::uint32_t k = 0; k < m.nodes.size(); ++k)
            if (m.nodes[k].kind != NodeKind::ref && recorder.evaluated()[k].valid())
                r.op_nodes_.emplace_back(recorder.evaluated()[k].index(), k);
    r.output_ = r.slots_[m.output_slot];
    if (r.output_.rows() != 1 || r.output_.cols() != 1) {
        const Assignment& out = m.assignments[m.output_slot - m.declarations.size()];
        throw m.error(out.line, out.column, "the output " + out.name + " is " + r.output_.shape_string() +
                                                " but must be 1x1 (reduce it, e.g. with sum or mean)");
    }
    return r;
}

std::vector<std::string> Model::param_names() const {
    std::vector<std::string> names;
    for (const Declaration& d : impl_->declarations)
        if (d.kind == Declaration::Kind::param) names.push_back(d.name);
    return names;
}

GraphBuilder Model::loss(Values values) const {
    return [this, values = std::move(values)](Tape& tape, const std::vector<Var>& params) {
        return record(tape, values, params).output();
    };
}

namespace {
// The param `name`, or an Error naming it and the params.
const Declaration& param_named(const Model& model, const std::string& name, const char* what) {
    const Declaration* d = model.find_declaration(name);
    if (d != nullptr && d->kind == Declaration::Kind::param) return *d;
    std::string params;
    for (const std::string& p : model.param_names()) params += (params.empty() ? "" : ", ") + p;
    throw Error(model.file(), 0, 0,
                std::string(what) + ": '" + name + "' is not a param (params: " + params + ")", "");
}
}  // namespace

Matrix Model::hessian(const Values& values, const std::vector<std::string>& wrt) const {
    const std::vector<std::string> names = wrt.empty() ? param_names() : wrt;
    for (std::size_t k = 0; k < names.size(); ++k) {
        param_named(*this, names[k], "hessian");
        if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(k), names[k]) != names.begin() + static_cast<std::ptrdiff_t>(k))
            throw Error(file(), 0, 0, "hessian: '" + names[k] + "' is given twice", "");
    }
    Tape tape;
    const Recording r = record(tape, values);
    std::vector<Var> vars;
    for (const std::string& name : names) vars.push_back(r.var(name));
    return matgrad::hessian(r.output(), vars);
}

Values Model::hvp(const Values& values, const Values& directions) const {
    for (const auto& [name, direction] : directions) param_named(*this, name, "hvp");
    Tape tape;
    const Recording r = record(tape, values);
    std::vector<Var> vars;
    std::vector<Matrix> v;
    for (const auto& [name, var] : r.params()) {
        vars.push_back(var);
        const auto given = directions.find(name);
        if (given != directions.end()) {
            v.push_back(given->second);
        } else {
            v.emplace_back(Matrix::shape_type{var.rows(), var.cols()});
            v.back().fill(0.0);  // a param not given stays fixed
        }
    }
    tape.hvp(r.output(), vars, v);
    Values result;
    for (const auto& [name, var] : r.params()) result.emplace(name, var.grad_tangent());
    return result;
}

std::optional<Error> Recording::located(const NumericalError& e) const {
    for (const auto& [tape_node, node] : op_nodes_)
        if (tape_node == e.node()) {
            const Model::Impl& m = *model_->impl_;
            const Node& n = m.nodes[node];
            return m.error(n.line, n.column, m.text(n) + ": " + e.what());
        }
    return std::nullopt;
}

const Var& Recording::var(const std::string& name) const { return slots_[model_->index_of(name)]; }

std::vector<std::pair<std::string, Var>> Recording::params() const {
    std::vector<std::pair<std::string, Var>> params;
    const std::vector<Declaration>& decls = model_->impl_->declarations;
    for (std::size_t k = 0; k < decls.size(); ++k)
        if (decls[k].kind == Declaration::Kind::param) params.emplace_back(decls[k].name, slots_[k]);
    return params;
}

}  // namespace matgrad::lang
