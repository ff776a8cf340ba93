#include <autodiff/limits.hpp>
#include <autodiff/tape.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <mutex>
#include <sstream>

namespace matgrad {

namespace {

// Generations are unique across all tapes, so a Var never matches a different tape's nodes by
// chance, and never 0, the mark of a free registry slot.
std::uint64_t next_generation() {
    static std::atomic<std::uint64_t> counter{1};
    return counter.fetch_add(1, std::memory_order_relaxed);
}

// Free slots of detail::live_tape_generations (taken at construction, returned at destruction).
class SlotAllocator {
public:
    std::uint32_t take() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!free_.empty()) {
            const std::uint32_t slot = free_.back();
            free_.pop_back();
            return slot;
        }
        if (next_ == detail::kMaxLiveTapes)
            throw UsageError("Tape: more than " + std::to_string(detail::kMaxLiveTapes) +
                             " tapes alive at once");
        return next_++;
    }
    void give_back(std::uint32_t slot) {
        std::lock_guard<std::mutex> lock(mutex_);
        free_.push_back(slot);
    }

private:
    std::mutex mutex_;
    std::vector<std::uint32_t> free_;
    std::uint32_t next_ = 0;
};

SlotAllocator& slots() {
    static SlotAllocator allocator;
    return allocator;
}

// Index of the first NaN/Inf in m, or m.size() when all are finite.
std::size_t first_non_finite(const Matrix& m) {
    const double* p = m.data();
    for (std::size_t k = 0; k < m.size(); ++k)
        if (!std::isfinite(p[k])) return k;
    return m.size();
}

std::string format_value(double x) {
    if (std::isnan(x)) return "nan";  // not "-nan": the sign of a NaN means nothing to a user
    std::ostringstream s;
    s.precision(17);
    s << x;
    return s.str();
}

// Value of `m` at the position (i, j) of a broadcast result (m may be broadcast along either axis).
double broadcast_value(const Matrix& m, std::size_t i, std::size_t j) {
    return m(m.shape(0) == 1 ? 0 : i, m.shape(1) == 1 ? 0 : j);
}

}  // namespace

std::string shape_string(const Matrix& m) {
    return std::to_string(m.shape(0)) + "x" + std::to_string(m.shape(1));
}

// ---------------------------------------------------------------------------------------------
// Var

void Tape::throw_invalid(const Var& v, const char* what) const {
    if (v.tape_ != this)
        throw UsageError(std::string(what) + ": the Var belongs to a different tape");
    Var::throw_stale(what);
}

void Var::throw_empty(const char* what) {
    throw UsageError(std::string(what) + ": empty Var (default-constructed)");
}

void Var::throw_stale(const char* what) {
    throw UsageError(std::string(what) +
                     ": the Var is stale: its tape was cleared (Tape::clear() invalidates every "
                     "Var) or destroyed since it was made; rebuild the graph");
}

bool Var::valid() const { return tape_ != nullptr && tape_alive() && index_ < tape_->count_; }
const std::string& Var::name() const { return tape_of("name()").checked(*this, "name()").name; }
const Var& Var::named(std::string name) const {
    tape_of("named()").checked(*this, "named()").name = std::move(name);
    return *this;
}
std::string Var::shape_string() const { return matgrad::shape_string(value()); }
const char* Var::op() const { return tape_of("op()").checked(*this, "op()").op; }
const OpDef* Var::def() const { return tape_of("def()").checked(*this, "def()").def; }
const OpParams& Var::params() const { return tape_of("params()").checked(*this, "params()").params; }
bool Var::requires_grad() const {
    return tape_of("requires_grad()").checked(*this, "requires_grad()").requires_grad;
}
std::size_t Var::num_inputs() const {
    return tape_of("num_inputs()").checked(*this, "num_inputs()").num_inputs;
}
Var Var::input(std::size_t i) const {
    const Tape& t = tape_of("input()");
    const Tape::Node& n = t.checked(*this, "input()");
    if (i >= n.num_inputs)
        throw std::out_of_range("input(" + std::to_string(i) + "): " + describe() + " has " +
                                std::to_string(n.num_inputs) + " inputs");
    return Var(t, t.inputs_[n.first_input + i]);
}
Tape& Var::tape() const { return tape_of("tape()"); }

std::string Var::describe() const {
    const Tape::Node& n = tape_of("describe()").checked(*this, "describe()");
    if (!n.name.empty()) return n.name;
    return std::string("the unnamed ") + n.op + " result #" + std::to_string(index_);
}

const Matrix& Var::grad() const {
    const Tape::Node& n = tape_of("grad()").checked(*this, "grad()");
    if (!n.requires_grad)
        throw UsageError("grad(): " + describe() +
                         " is a constant (or computed only from constants) and has no gradient");
    if (!n.has_grad)
        throw UsageError("grad(): no backward() has run since " + describe() + " was recorded");
    return n.grad;
}

const Matrix& Var::tangent() const {
    const Tape::Node& n = tape_of("tangent()").checked(*this, "tangent()");
    if (!n.has_tangent)
        throw UsageError("tangent(): " + describe() +
                         " has no tangent: no Tape::jvp() or hvp() since it was recorded reached it (it is a "
                         "constant, or the output does not depend on it)");
    return n.tangent;
}

const Matrix& Var::grad_tangent() const {
    const Tape::Node& n = tape_of("grad_tangent()").checked(*this, "grad_tangent()");
    if (!n.has_grad_tangent || !n.requires_grad)
        throw UsageError("grad_tangent(): no Tape::hvp() has run since " + describe() +
                         " was recorded, or it is a constant");
    return n.grad_tangent;
}

// ---------------------------------------------------------------------------------------------
// BackwardContext

BackwardContext::GradTarget BackwardContext::grad_input_target(std::size_t i) const {
    Tape::Node& n = tape_.grad_input_node(node_, i);
    bool& written = tangent_ ? n.grad_tangent_written : n.grad_written;
    const bool first = !written;
    written = true;
    return {tangent_ ? n.grad_tangent : n.grad, first};
}
Matrix& BackwardContext::grad_input(std::size_t i) const {
    const GradTarget target = grad_input_target(i);
    if (target.assign) std::fill(target.grad.begin(), target.grad.end(), 0.0);
    return target.grad;
}
Matrix& BackwardContext::replace_grad_input(std::size_t i, std::size_t rows, std::size_t cols) const {
    Tape::Node& n = tape_.grad_input_node(node_, i);
    if (n.grad_written)
        throw ShapeError(std::string(tape_.nodes_[node_]->op) + " mistake: input " + std::to_string(i) +
                         " already has a gradient from another path; a replaced (reshaped) gradient "
                         "must be its only one");
    // Only a gradient of another shape stops the input's own VJP (which would misread it).
    n.grad_replaced = rows != n.value.shape(0) || cols != n.value.shape(1);
    n.grad.resize({rows, cols});
    n.grad_written = true;
    return n.grad;
}

// ---------------------------------------------------------------------------------------------
// Tape

Tape::Tape() : slot_(slots().take()), generation_(next_generation()) {
    detail::live_tape_generations[slot_].store(generation_, std::memory_order_relaxed);
}

Tape::~Tape() {
    detail::live_tape_generations[slot_].store(0, std::memory_order_relaxed);
    slots().give_back(slot_);
}

void Tape::throw_no_input(const Node& n, std::size_t i) {
    throw std::out_of_range(std::string(n.op) + ": input " + std::to_string(i) + " out of range (" +
                            std::to_string(n.num_inputs) + " inputs)");
}

Tape::Node& Tape::grad_input_node(std::uint32_t node, std::size_t i) const {
    auto& n = const_cast<Node&>(input_node(*nodes_[node], i));
    if (!n.requires_grad)
        throw UsageError(std::string(nodes_[node]->op) + " backward: input " + std::to_string(i) +
                         " needs no gradient (check needs_grad(i) first)");
    if (n.grad_replaced)
        throw ShapeError(std::string(nodes_[node]->op) + " backward: the gradient of input " +
                         std::to_string(i) + " was replaced by a mistake with another shape (" +
                         shape_string(n.grad) + "); no other path can add into it");
    return n;
}

std::string matrix_size_problem(std::size_t rows, std::size_t cols) {
    std::size_t elements = 0;
    const bool overflows = __builtin_mul_overflow(rows, cols, &elements);
    if (rows == 0 || cols == 0)
        return std::to_string(rows) + "x" + std::to_string(cols) + " is empty; every matrix needs at least 1x1";
    if (!overflows && elements <= kMaxMatrixElements) return "";
    char bytes[32];  // in floating point: the true count may not fit in 64 bits
    std::snprintf(bytes, sizeof bytes, "%.3g", static_cast<double>(rows) * static_cast<double>(cols) * sizeof(double));
    return std::to_string(rows) + "x" + std::to_string(cols) + " would need " + bytes + " bytes, over the cap of " +
           std::to_string(kMaxMatrixElements) + " elements (" +
           std::to_string((kMaxMatrixElements * sizeof(double)) >> 30) + " GiB) per matrix";
}

Var Tape::push_node(const char* op, VarList inputs, std::size_t rows, std::size_t cols,
                    BackwardFn backward) {
    if (released_) throw_released(op);
    // Both factors at most 2^27 first, so their product cannot overflow.
    if (rows > kMaxMatrixElements || cols > kMaxMatrixElements || rows * cols > kMaxMatrixElements)
        throw ShapeError(std::string(op) + ": the result " + matrix_size_problem(rows, cols));
    if (detail::thread_work_limits != nullptr) detail::check_work_limits(*detail::thread_work_limits, op, rows, cols);
    bool requires_grad = false;
    for (const Var& in : inputs) {
        if (in.tape_ == nullptr) throw UsageError(std::string(op) + ": an input is an empty Var");
        if (in.tape_ != this)
            throw ShapeError(std::string(op) + ": " + in.describe() + " (" + in.shape_string() +
                             ") belongs to a different tape than the other operands");
        requires_grad = checked(in, op).requires_grad || requires_grad;
    }
    if (count_ == nodes_.size()) nodes_.push_back(std::make_unique<Node>());
    if (input_count_ + inputs.size() > inputs_.size()) inputs_.resize(input_count_ + inputs.size());

    Node& n = *nodes_[count_];
    n.op = op;
    n.def = nullptr;
    n.params = OpParams{};
    n.name.clear();
    n.value.resize({rows, cols});  // keeps the buffer when the size is unchanged
    n.backward = backward;
    n.first_input = static_cast<std::uint32_t>(input_count_);
    n.num_inputs = static_cast<std::uint32_t>(inputs.size());
    n.requires_grad = requires_grad;
    n.has_grad = false;
    n.has_tangent = n.has_grad_tangent = false;
    n.released = false;
    n.forward_seconds = n.backward_seconds = 0.0;
    for (const Var& in : inputs) inputs_[input_count_++] = in.index_;
    return Var(*this, static_cast<std::uint32_t>(count_++));
}

void Tape::finish_forward(std::uint32_t index, double seconds) {
    Node& n = *nodes_[index];
    n.forward_seconds = seconds;
    if (!detect_anomalies_) return;
    const std::size_t bad = first_non_finite(n.value);
    if (bad == n.value.size()) return;
    const std::size_t i = bad / n.value.shape(1), j = bad % n.value.shape(1);
    std::ostringstream msg;
    msg << n.op << ": " << Var(*this, index).describe() << " (" << shape_string(n.value)
        << ") has " << format_value(n.value(i, j)) << " at (" << i << "," << j << ")";
    for (std::uint32_t k = 0; k < n.num_inputs; ++k) {
        const Node& in = input_node(n, k);
        msg << (k == 0 ? " from " : ", ") << "input " << k << " = "
            << format_value(broadcast_value(in.value, i, j));
    }
    throw NumericalError(msg.str(), index);
}

Var Tape::make_leaf(const char* op, const Matrix& value, std::string&& name, bool requires_grad,
                    Matrix* steal_from) {
    if (value.size() == 0)
        throw ShapeError(std::string(op) + " " + (name.empty() ? "" : name + " ") +
                         "is empty (" + shape_string(value) + "); every matrix needs at least 1x1");
    // A moved-in value brings its own buffer: size the node's old one to nothing rather than to
    // the value's shape (which would allocate just to be replaced).
    const bool moved_in = steal_from != nullptr;
    Var v = push_node(op, {}, moved_in ? 0 : value.shape(0), moved_in ? 0 : value.shape(1), nullptr);
    Node& n = *nodes_[v.index_];
    if (moved_in)
        n.value = std::move(*steal_from);
    else
        n.value = value;  // same shape as last time: copies into the kept buffer, no allocation
    n.name = std::move(name);
    n.requires_grad = requires_grad;
    finish_forward(v.index_, 0.0);
    return v;
}

Var Tape::constant(const Matrix& value, std::string name) {
    return make_leaf("constant", value, std::move(name), false, nullptr);
}
Var Tape::constant(Matrix&& value, std::string name) {
    return make_leaf("constant", value, std::move(name), false, &value);
}

Var Tape::constant(double value, std::string name) {
    // Reuse the node's 1x1 buffer instead of allocating a new matrix each step.
    return record("constant", {}, 1, 1, [value](Matrix& out) { out(0, 0) = value; }, nullptr)
        .named(std::move(name));
}

Var Tape::variable(const Matrix& value, std::string name) {
    return make_leaf("variable", value, std::move(name), true, nullptr);
}
Var Tape::variable(Matrix&& value, std::string name) {
    return make_leaf("variable", value, std::move(name), true, &value);
}

Var Tape::node(std::size_t index) const {
    if (index >= count_)
        throw std::out_of_range("Tape::node(" + std::to_string(index) + "): the tape has " +
                                std::to_string(count_) + " nodes");
    return Var(*this, static_cast<std::uint32_t>(index));
}

Matrix Tape::release(const Var& leaf) {
    Node& n = checked(leaf, "release");
    if (n.num_inputs != 0 || n.backward != nullptr)
        throw UsageError("release: " + leaf.describe() + " is a " + n.op +
                         " result; only a constant or variable leaf can give its value back");
    if (n.released) throw_released("release");
    Matrix value = std::move(n.value);
    n.value = Matrix();  // a defined empty state; the next leaf in this slot moves its buffer in
    n.released = true;
    released_ = true;
    return value;
}

void Tape::throw_released(const char* what) {
    throw UsageError(std::string(what) +
                     ": a leaf's value was taken back with Tape::release(), which finishes the "
                     "graph; clear() the tape and record a new one");
}

void Tape::clear() {
    released_ = false;
    gradients_of_ = 0;
    count_ = 0;
    input_count_ = 0;
    generation_ = next_generation();
    detail::live_tape_generations[slot_].store(generation_, std::memory_order_relaxed);
}

double Tape::now_seconds() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

double Tape::forward_seconds(std::size_t index) const { return nodes_.at(index)->forward_seconds; }
double Tape::backward_seconds(std::size_t index) const { return nodes_.at(index)->backward_seconds; }

void Tape::backward(const Var& out) { backward_pass(out, nullptr); }

void Tape::backward(const Var& out, const std::vector<Mutation>& mutations) {
    checked(out, "backward");
    for (const Mutation& m : mutations) {
        if (m.node > out.index_)
            throw UsageError("backward: mutation at node " + std::to_string(m.node) + " but the output is node " +
                             std::to_string(out.index_));
        const Node& n = *nodes_[m.node];
        if (m.mistake == Mutation::drop_path) {
            if (m.input >= n.num_inputs)
                throw UsageError("backward: dropped path into input " + std::to_string(m.input) + " of node " +
                                 std::to_string(m.node) + " (" + n.op + "), which has " +
                                 std::to_string(n.num_inputs) + " inputs");
            continue;
        }
        const std::size_t available = n.def ? n.def->mistakes.size() : 0;
        if (m.mistake >= available)
            throw UsageError("backward: mutation " + std::to_string(m.mistake) + " at node " +
                             std::to_string(m.node) + " (" + n.op + "), which has " +
                             std::to_string(available) + " mistakes");
    }
    backward_pass(out, &mutations);
}

// A missing path: input `input`'s gradient is put back as it was before this VJP added to it.
void Tape::run_without_path(std::size_t k, BackwardFn vjp, std::size_t input) {
    Node& skipped = *nodes_[inputs_[nodes_[k]->first_input + input]];
    const bool written = skipped.grad_written;
    const Matrix before = written ? skipped.grad : Matrix();
    vjp(BackwardContext(*this, static_cast<std::uint32_t>(k)));
    if (!skipped.requires_grad || skipped.grad_replaced) return;
    skipped.grad_written = written;
    if (written) skipped.grad = before;
}

void Tape::backward_pass(const Var& out, const std::vector<Mutation>* mutations, Pass pass) {
    const char* what = pass == Pass::gradients ? "backward" : "hvp";
    if (out.tape_ != this) throw ShapeError(std::string(what) + ": the output belongs to a different tape");
    if (released_) throw_released(what);
    Node& root = checked(out, what);
    if (root.value.shape(0) != 1 || root.value.shape(1) != 1)
        throw ShapeError(std::string(what) + ": " + out.describe() + " is " + shape_string(root.value) + " but the output of " +
                         what + "() must be 1x1 (reduce it with sum() or mean() first)");

    // Gradient buffers are not zero-filled up front: the first op to write into one assigns
    // (grad_input_target) or zero-fills it on demand (grad_input); the rest are zeroed at the end.
    // The same holds for the gradients' tangents.
    const bool gradients = pass != Pass::tangents_only, tangents = pass != Pass::gradients;
    if (gradients) gradients_of_ = 0;
    for (std::size_t k = 0; k < count_; ++k) {
        Node& n = *nodes_[k];
        n.has_grad = true;
        n.has_grad_tangent = tangents;
        n.grad_tangent_written = false;
        if (gradients) {
            n.grad_written = false;
            n.grad_replaced = false;
        }
        n.backward_seconds = 0.0;
        if (!n.requires_grad) continue;
        n.grad.resize({n.value.shape(0), n.value.shape(1)});  // kept buffers
        if (tangents) n.grad_tangent.resize({n.value.shape(0), n.value.shape(1)});
    }
    if (root.requires_grad) {
        root.grad(0, 0) = 1.0;
        root.grad_written = true;
        if (tangents) root.grad_tangent(0, 0) = 0.0;  // d out / d out = 1 does not move
        root.grad_tangent_written = tangents;
    }

    for (std::size_t k = out.index_ + 1; k-- > 0;) {
        Node& n = *nodes_[k];
        // A node no gradient reached contributes nothing (and its backward would read stale values).
        if (!n.grad_written || n.backward == nullptr) continue;
        if (!gradients) {
            n.def->vjp_tangent(BackwardContext(*this, static_cast<std::uint32_t>(k)));
            continue;
        }
        BackwardFn vjp = n.backward;
        const Mutation* dropped = nullptr;
        if (mutations != nullptr) {
            if (n.grad_replaced) continue;  // its VJP would misread a gradient of another shape
            for (const Mutation& m : *mutations)
                if (m.node != k) continue;
                else if (m.mistake == Mutation::drop_path) dropped = &m;
                else vjp = n.def->mistakes[m.mistake].vjp;
        }
        if (detail::thread_work_limits != nullptr) detail::check_work_limits(*detail::thread_work_limits, n.op, 0, 0);
        const double start = timing_ ? now_seconds() : 0.0;
        if (dropped != nullptr)
            run_without_path(k, vjp, dropped->input);
        else
            vjp(BackwardContext(*this, static_cast<std::uint32_t>(k)));
        if (tangents) n.def->vjp_tangent(BackwardContext(*this, static_cast<std::uint32_t>(k)));
        if (timing_) n.backward_seconds = now_seconds() - start;
        if (!detect_anomalies_) continue;
        for (std::uint32_t i = 0; i < n.num_inputs; ++i) {
            const Node& in = input_node(n, i);
            if (!in.grad_written) continue;  // untouched so far: stale values, not this op's
            const std::size_t bad = first_non_finite(in.grad);
            if (bad == in.grad.size()) continue;
            const std::size_t r = bad / in.grad.shape(1), c = bad % in.grad.shape(1);
            std::ostringstream msg;
            msg << n.op << " backward: the gradient of input " << i << " ("
                << Var(*this, inputs_[n.first_input + i]).describe() << ", "
                << shape_string(in.grad) << ") has " << format_value(in.grad(r, c)) << " at (" << r
                << "," << c << "); input value there = " << format_value(in.value(r, c));
            throw NumericalError(msg.str(), k);
        }
    }
    for (std::size_t k = 0; k < count_; ++k) {  // variables `out` does not depend on: zero
        Node& n = *nodes_[k];
        if (n.requires_grad && !n.grad_written) std::fill(n.grad.begin(), n.grad.end(), 0.0);
        if (tangents && n.requires_grad && !n.grad_tangent_written)
            std::fill(n.grad_tangent.begin(), n.grad_tangent.end(), 0.0);
    }
    if (mutations == nullptr) gradients_of_ = out.index_ + 1;
}

// ---------------------------------------------------------------------------------------------
// Second order

void Tape::throw_no_second_order(std::size_t k, const char* what) const {
    const Node& n = *nodes_[k];
    throw UsageError(std::string(what) + ": the op '" + n.op + "' (" + Var(*this, static_cast<std::uint32_t>(k)).describe() +
                     ") has no second-order rule: " +
                     (n.def == nullptr ? "it was recorded without an OpDef"
                                       : std::string("its OpDef has no ") +
                                             (n.def->jvp == nullptr ? "jvp" : "vjp_tangent")) +
                     " (examples/custom_op shows how to give an op one)");
}

void Tape::jvp(const Var& out, VarList wrt, const std::vector<Matrix>& directions) {
    forward_tangents(out, wrt, directions, false);
}

void Tape::forward_tangents(const Var& out, VarList wrt, const std::vector<Matrix>& directions, bool for_hvp) {
    const char* what = for_hvp ? "hvp" : "jvp";
    if (released_) throw_released(what);
    checked(out, what);
    if (wrt.size() != directions.size())
        throw UsageError(std::string(what) + ": " + std::to_string(wrt.size()) + " variables but " +
                         std::to_string(directions.size()) + " directions");
    for (std::size_t k = 0; k < wrt.size(); ++k) {
        const Var& v = wrt.begin()[k];
        const Node& n = checked(v, what);
        if (n.num_inputs != 0 || !n.requires_grad)
            throw UsageError(std::string(what) + ": " + v.describe() + " is a " + n.op + ", not a variable");
        if (n.value.shape() != directions[k].shape())
            throw ShapeError(std::string(what) + ": the direction of " + v.describe() + " is " +
                             shape_string(directions[k]) + " but " + v.describe() + " is " + shape_string(n.value));
        for (std::size_t j = 0; j < k; ++j)
            if (wrt.begin()[j].index_ == v.index_)
                throw UsageError(std::string(what) + ": " + v.describe() + " is given twice");
    }

    // The nodes `out` depends on, and a clear error before any work when one has no rule.
    for (std::size_t k = 0; k <= out.index_; ++k) nodes_[k]->on_path = false;
    nodes_[out.index_]->on_path = true;
    for (std::size_t k = out.index_ + 1; k-- > 0;) {
        Node& n = *nodes_[k];
        if (!n.on_path || !n.requires_grad) continue;
        if (n.num_inputs != 0 && (n.def == nullptr || n.def->jvp == nullptr || (for_hvp && n.def->vjp_tangent == nullptr)))
            throw_no_second_order(k, what);
        for (std::uint32_t i = 0; i < n.num_inputs; ++i) nodes_[inputs_[n.first_input + i]]->on_path = true;
    }

    for (std::size_t k = 0; k <= out.index_; ++k) {
        Node& n = *nodes_[k];
        n.has_tangent = n.on_path && n.requires_grad;
        if (!n.has_tangent) continue;
        n.tangent.resize({n.value.shape(0), n.value.shape(1)});  // kept buffer
        if (n.num_inputs != 0) {
            n.def->jvp(BackwardContext(*this, static_cast<std::uint32_t>(k)));
            continue;
        }
        const Var* given = std::find_if(wrt.begin(), wrt.end(), [k](const Var& v) { return v.index_ == k; });
        if (given == wrt.end())
            std::fill(n.tangent.begin(), n.tangent.end(), 0.0);
        else
            n.tangent = directions[static_cast<std::size_t>(given - wrt.begin())];  // same shape: no allocation
    }
}

void Tape::hvp(const Var& out, VarList wrt, const std::vector<Matrix>& directions) {
    forward_tangents(out, wrt, directions, true);
    const bool current = gradients_of_ == out.index_ + 1;
    backward_pass(out, nullptr, current ? Pass::tangents_only : Pass::with_tangents);
}

namespace detail {

thread_local const WorkLimits* thread_work_limits = nullptr;

void check_work_limits(const WorkLimits& limits, const char* op, std::size_t rows, std::size_t cols) {
    if (limits.max_node_elements != 0 && rows * cols > limits.max_node_elements)  // both <= 2^27: no overflow
        throw LimitError(std::string(op) + ": the result would be " + std::to_string(rows) + "x" + std::to_string(cols) +
                         " = " + std::to_string(rows * cols) + " elements, more than the limit of " +
                         std::to_string(limits.max_node_elements));
    if (limits.deadline != std::chrono::steady_clock::time_point{} && std::chrono::steady_clock::now() > limits.deadline)
        throw LimitError(std::string(op) + ": the time limit ran out before this op");
}

}  // namespace detail

ScopedWorkLimits::ScopedWorkLimits(const WorkLimits& limits) : limits_(limits), previous_(detail::thread_work_limits) {
    detail::thread_work_limits = &limits_;
}

ScopedWorkLimits::~ScopedWorkLimits() { detail::thread_work_limits = previous_; }

}  // namespace matgrad
