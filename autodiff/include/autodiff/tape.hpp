// The reverse-mode tape: an append-only list of nodes addressed by index, and Var, a cheap handle
// to one of them. Every op -- built-in or user-defined -- is added with Tape::record(), giving its
// definition (<autodiff/op.hpp>: the VJP, rules and mistakes) and its forward value.
#pragma once

#include <autodiff/op.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xnoalias.hpp>
#include <xtensor/xtensor.hpp>

namespace matgrad {

/// Every value is a 2-D row-major matrix of doubles; a scalar is 1x1.
using Matrix = xt::xtensor<double, 2>;

/// Wrong shapes, non-broadcastable operands, backward() on a non-scalar, Vars of two tapes mixed.
/// The message names the op, the operands (by name when they have one) and their shapes.
class ShapeError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

/// Misuse that is not about shapes: a Var used after its tape was cleared, grad() read before
/// backward(), an empty Var handle.
class UsageError : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// Thrown in anomaly-detection mode when an op produces the first NaN or Inf.
class NumericalError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    /// `node`: the tape node whose value, or whose backward, made the non-finite number.
    NumericalError(const std::string& what, std::size_t node) : std::runtime_error(what), node_(node) {}
    /// That node's index (Var::index()), or no_node when the error is not tied to one.
    std::size_t node() const { return node_; }
    /// node() of an error that is not tied to one node.
    static constexpr std::size_t no_node = static_cast<std::size_t>(-1);

private:
    std::size_t node_ = no_node;
};

/// "64x10": how error messages everywhere in matgrad write a matrix's shape.
std::string shape_string(const Matrix& m);

/// The most elements one matrix may hold: 2^27 float64 values, 1 GiB. Every op result is checked
/// against it before it is allocated, and so are sizes read from text (a model's declarations, a
/// --dim, Python's dims=, layer sizes), so a typo or a hostile size is refused by name instead of
/// overflowing rows x cols or asking the allocator for terabytes.
inline constexpr std::size_t kMaxMatrixElements = std::size_t{1} << 27;
/// Empty when a rows x cols matrix is allowed: both at least 1 and at most kMaxMatrixElements
/// elements (checked without overflow). Otherwise why not, e.g. "4294967296x4294967296 would need
/// 1.48e+20 bytes, over the cap of 134217728 elements (1 GiB) per matrix".
std::string matrix_size_problem(std::size_t rows, std::size_t cols);

class Tape;
class BackwardContext;
struct DotOptions;  // <autodiff/inspect.hpp>

namespace detail {
/// The live-tape registry. Each live Tape owns one slot holding its current generation
/// (generations are unique across all tapes); a destroyed tape's slot is reset to 0. A Var is
/// usable only while its slot still holds the Var's generation: one load, and a Var that outlived
/// its tape or its tape's clear() is reported without ever touching the tape's memory.
inline constexpr std::size_t kMaxLiveTapes = 1 << 14;
inline std::atomic<std::uint64_t> live_tape_generations[kMaxLiveTapes];
}  // namespace detail

/// A handle to one node of a tape: tape pointer, node index, and the tape's registry slot and
/// generation when it was made, so a Var kept across Tape::clear() or past its tape's destruction
/// throws UsageError instead of reading another node or freed memory.
class Var {
public:
    Var() = default;  ///< an empty handle; every accessor throws UsageError

    /// The node's forward value.
    const Matrix& value() const;
    /// d out / d this node after tape.backward(out). Throws UsageError for a constant or when no
    /// backward() has run since this node was recorded.
    const Matrix& grad() const;
    /// Second order: d value / dt when the variables move along the directions of the last
    /// Tape::jvp or Tape::hvp (for nodes the output depends on that depend on a variable).
    const Matrix& tangent() const;
    /// Second order: the tangent of grad() after Tape::hvp -- for a variable in `wrt`, its block
    /// of H·v.
    const Matrix& grad_tangent() const;
    /// The node's name ("" when unnamed).
    const std::string& name() const;
    /// Names this node (e.g. "Z1") for error messages, explain and DOT output; returns *this.
    const Var& named(std::string name) const;

    /// Rows of the node's value.
    std::size_t rows() const;
    /// Columns of the node's value.
    std::size_t cols() const;
    /// {rows(), cols()}.
    std::array<std::size_t, 2> shape() const { return {rows(), cols()}; }
    /// "64x10"
    std::string shape_string() const;
    /// The name if it has one, else a description such as "the unnamed matmul result #5".
    std::string describe() const;

    const char* op() const;        ///< "variable", "constant", "matmul", "add", ...
    /// The op's definition; nullptr for an op recorded without one (record(name, ..., BackwardFn)).
    const OpDef* def() const;
    /// The op's numeric parameters (OpDef::params, in order; unused entries 0).
    const OpParams& params() const;
    bool requires_grad() const;    ///< true for variables and everything computed from one
    /// How many inputs the op that made this node has (0 for leaves).
    std::size_t num_inputs() const;
    /// The op's i-th input (0-based).
    Var input(std::size_t i) const;

    /// The tape this node lives on.
    Tape& tape() const;
    /// The node's position on its tape (0 = first recorded).
    std::size_t index() const { return index_; }
    /// false for an empty handle, one made before its tape's last clear(), or one whose tape was
    /// destroyed
    bool valid() const;

private:
    friend class Tape;
    Var(const Tape& tape, std::uint32_t index);  // node `index` of the tape's current graph

    [[noreturn]] static void throw_empty(const char* what);
    [[noreturn]] static void throw_stale(const char* what);
    bool tape_alive() const {
        return detail::live_tape_generations[slot_].load(std::memory_order_relaxed) == generation_;
    }
    Tape& tape_of(const char* what) const {
        if (tape_ == nullptr) throw_empty(what);
        if (!tape_alive()) throw_stale(what);
        return *tape_;
    }

    Tape* tape_ = nullptr;
    std::uint32_t index_ = 0;
    std::uint32_t slot_ = 0;
    std::uint64_t generation_ = 0;
};

/// Records an op's operands: a braced list {a, b}, a std::vector<Var>, or a pointer and a count.
/// A view for the duration of one record() call (a braced list lives until the call returns).
class VarList {
public:
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
#endif
    /// A braced list {a, b}: valid until the record() call returns.
    VarList(std::initializer_list<Var> vars) : data_(vars.begin()), size_(vars.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
    /// Any number of operands (front ends, user ops with many inputs).
    VarList(const std::vector<Var>& vars) : data_(vars.data()), size_(vars.size()) {}
    /// `size` operands starting at `data`.
    VarList(const Var* data, std::size_t size) : data_(data), size_(size) {}
    const Var* begin() const { return data_; }     ///< the first operand
    const Var* end() const { return data_ + size_; }  ///< one past the last operand
    std::size_t size() const { return size_; }     ///< the number of operands

private:
    const Var* data_;
    std::size_t size_;
};

/// Tape::backward(out, mutations): at tape node `node`, run mistake number `mistake` of the node's
/// OpDef (OpDef::mistakes[mistake].vjp) instead of its true VJP. With mistake == drop_path it is a
/// graph-level mistake instead, a "missing path": the node's true VJP runs but its contribution to
/// input number `input` is left out, as a hand derivation that forgets one use of a value does.
struct Mutation {
    /// The `mistake` value that selects a missing path instead of an op's mistake.
    static constexpr std::size_t drop_path = static_cast<std::size_t>(-1);
    std::size_t node;     ///< the tape node whose VJP is replaced
    std::size_t mistake;  ///< index into the node's OpDef::mistakes, or drop_path
    std::size_t input = 0;  ///< for drop_path: which input's contribution is dropped
};

/// What an op's backward function sees: its inputs' values, its own value and gradient, its
/// parameters and saved matrix, and the gradient buffers of the inputs that need one.
class BackwardContext {
public:
    /// The op's own forward value (e.g. its softmax or sigmoid output, to reuse in the backward rule).
    const Matrix& output() const;
    /// d out / d (this op's value): the gradient flowing in, shaped like output().
    const Matrix& grad_output() const;
    /// How many inputs the op has.
    std::size_t num_inputs() const;
    /// The value of input i (0-based), as it was in the forward pass.
    const Matrix& input(std::size_t i) const;
    /// Whether input i needs a gradient (false for constants and what depends only on them).
    bool needs_grad(std::size_t i) const;
    /// Numeric parameter k of the op (record(..., params); OpDef::params names them).
    double param(std::size_t k) const;
    /// The matrix the forward saved for the backward (record's forward(out, saved)), e.g. an
    /// inverse or an LU factorization; kept by the node across Tape::clear().
    const Matrix& saved() const;
    /// The gradient buffer of input i, already shaped like the input; add into it (+=).
    Matrix& grad_input(std::size_t i) const;

    /// Input i's gradient buffer for an op that writes every element of it. `assign` is true when
    /// this is the first contribution to that gradient in the current backward pass: the buffer
    /// then holds stale values and the op must assign (=) instead of adding (+=) -- which saves
    /// zero-filling every gradient before the pass. grad_input(i) is the simpler form that always
    /// adds (it zero-fills a fresh buffer first).
    struct GradTarget {
        /// Input i's gradient buffer, shaped like the input.
        Matrix& grad;
        /// true: assign (=) to `grad`; false: add (+=) to it.
        bool assign;
    };
    /// See GradTarget.
    GradTarget grad_input_target(std::size_t i) const;

    /// Second order: the tangent of input i (only for needs_grad(i); a constant's is 0).
    const Matrix& input_tangent(std::size_t i) const;
    /// Second order: the output's tangent, written (=) by OpDef::jvp and read by OpDef::vjp_tangent.
    Matrix& output_tangent() const;
    /// Second order: this context with every gradient replaced by its tangent -- grad_output() is
    /// ġ, grad_input(i) and grad_input_target(i) are the buffers of the tangent of input i's
    /// gradient. OpDef::vjp_tangent writes its result there.
    BackwardContext tangents() const { return BackwardContext(tape_, node_, true); }

    /// For mistake VJPs only (a mutated backward): makes input i's gradient a rows x cols matrix
    /// even when the input has another shape (a gradient left unreduced or transposed) and returns
    /// it for writing (=, its old contents are unspecified). When the shape is not the input's,
    /// the input's own backward is then skipped (its VJP would misread the shape) and another path
    /// adding into it throws ShapeError; with the input's own shape it is an ordinary gradient.
    Matrix& replace_grad_input(std::size_t i, std::size_t rows, std::size_t cols) const;

private:
    friend class Tape;
    BackwardContext(Tape& tape, std::uint32_t node, bool tangent = false)
        : tape_(tape), node_(node), tangent_(tangent) {}
    Tape& tape_;
    std::uint32_t node_;
    bool tangent_;  // tangents(): gradients read and written are the gradients' tangents
};

/// OpDef::vjp_tangent of an op whose VJP is linear in the upstream gradient and reads no value
/// (add, sum, transpose): the tangent of its gradient is the same VJP applied to ġ.
template <BackwardFn Vjp>
void vjp_of_tangents(const BackwardContext& ctx) {
    Vjp(ctx.tangents());
}

/// Records matrix ops as they run (the forward pass) and computes every gradient in one reverse
/// pass (backward()). Vars are handles into it; one tape per thread.
class Tape {
public:
    Tape();
    ~Tape();
    Tape(const Tape&) = delete;             // Vars point at their tape: it must not move
    Tape& operator=(const Tape&) = delete;

    /// An input that needs no gradient (data, labels). Empty matrices are refused. An lvalue is
    /// copied into the node's kept buffer (no allocation when the shape repeats after clear());
    /// an rvalue is moved in.
    Var constant(const Matrix& value, std::string name = "");
    /// Moves `value` in (see above).
    Var constant(Matrix&& value, std::string name = "");
    /// A 1x1 constant.
    Var constant(double value, std::string name = "");
    /// A leaf that needs a gradient (a parameter); copied or moved in like constant().
    Var variable(const Matrix& value, std::string name = "");
    /// Moves `value` in (see above).
    Var variable(Matrix&& value, std::string name = "");

    /// Records an op: checks that all inputs live on this tape, appends a rows x cols node, calls
    /// forward(out) -- or forward(out, saved) to also keep a matrix for the backward -- to fill its
    /// value (read inputs through their Vars inside forward), and keeps def.vjp for the reverse
    /// pass, with `params` readable there as ctx.param(k). Inputs that need no gradient cost no
    /// backward work.
    template <class Forward>
    Var record(const OpDef& def, VarList inputs, std::size_t rows, std::size_t cols,
               Forward&& forward, const OpParams& params = {});

    /// The same without a definition: a name and a VJP (explain writes its gradient generically
    /// as vjp(op, input i, g); no mistakes, not callable by name).
    template <class Forward>
    Var record(const char* op, VarList inputs, std::size_t rows, std::size_t cols,
               Forward&& forward, BackwardFn backward);

    /// Reverse pass from a 1x1 node. Afterwards grad() of every node that depends on a variable
    /// holds d out / d node (leaves and intermediates); a variable `out` does not depend on gets a
    /// zero matrix of its own shape. Each call recomputes all gradients from scratch: gradients of
    /// two backward() calls are never summed.
    void backward(const Var& out);

    /// A mutated reverse pass: as backward(out), but at each mutation's node its OpDef's mistake
    /// runs instead of the true VJP (several nodes may be mutated at once). Gradients then hold
    /// what that hand derivation would give; one may have another shape than its node (see
    /// BackwardContext::replace_grad_input). The next backward() is exact again. Throws
    /// UsageError for a node index past the output or a mistake index the op does not have.
    void backward(const Var& out, const std::vector<Mutation>& mutations);

    /// Forward mode: the tangent of every node `out` depends on (Var::tangent()) when each
    /// variable wrt[k] moves along directions[k] and every other variable stays fixed -- for any
    /// `out`, of any shape. Runs each op's OpDef::jvp on the recorded values. An op on the way
    /// without one is a UsageError naming it; a direction shaped unlike its variable, a ShapeError.
    void jvp(const Var& out, VarList wrt, const std::vector<Matrix>& directions);
    /// Forward-over-reverse (second order): jvp(out, wrt, directions), then the reverse pass from
    /// the 1x1 `out` carrying the tangent of every gradient (OpDef::vjp_tangent). Afterwards
    /// wrt[k].grad_tangent() is block k of H·v -- H the Hessian of out over the variables, v the
    /// directions -- and grad() holds the gradient. The gradients of the last complete backward(out)
    /// on this graph are reused. Repeated on the same graph it allocates nothing.
    void hvp(const Var& out, VarList wrt, const std::vector<Matrix>& directions);

    /// Forgets all nodes (existing Vars become invalid) but keeps every buffer, so a training loop
    /// that builds the same graph each step does not allocate in steady state.
    void clear();

    /// Moves the value out of a leaf (constant or variable) and returns it, so a training loop
    /// can move its data and parameters into the tape each step and take them back without any
    /// matrix being copied:
    ///     tape.clear();  Var W = tape.variable(std::move(w));  ...  tape.backward(J);
    ///     w = tape.release(W);  w -= lr * W.grad();
    /// The graph is finished afterwards: gradients stay readable, but reading the released
    /// value, recording another op or calling backward() throws UsageError until clear().
    Matrix release(const Var& leaf);

    std::size_t size() const { return count_; }  ///< number of recorded nodes
    Var node(std::size_t index) const;           ///< a handle to recorded node `index`

    /// Anomaly detection: when on, the first NaN or Inf produced by an op's forward value or by a
    /// backward step throws NumericalError naming the op, the node, its shape, the position of the
    /// first bad element and the input values there.
    void set_anomaly_detection(bool on) { detect_anomalies_ = on; }
    /// Whether anomaly detection is on.
    bool anomaly_detection() const { return detect_anomalies_; }

    /// Per-node wall-clock timing of forward and backward (for trace tools); off by default.
    void set_timing(bool on) { timing_ = on; }
    /// Whether timing is on.
    bool timing() const { return timing_; }
    /// Seconds node `index`'s forward took (0 without timing).
    double forward_seconds(std::size_t index) const;
    /// Seconds node `index`'s backward step took (0 without timing).
    double backward_seconds(std::size_t index) const;

    /// Graphviz DOT of the recorded graph, one node per op (implemented in inspect.cpp; the
    /// options are in <autodiff/inspect.hpp>).
    std::string to_dot() const;
    /// DOT with options: gradient norms on the nodes, the graph's name.
    std::string to_dot(const DotOptions& options) const;
    /// A table, one row per node: index, op, name, shape, value min/max/mean, gradient norm,
    /// forward and backward time (with set_timing(true)).
    std::string trace() const;

private:
    friend class Var;
    friend class BackwardContext;

    struct Node {
        const char* op = "";
        const OpDef* def = nullptr;
        std::string name;
        Matrix value;
        Matrix grad;
        Matrix saved;  // what forward(out, saved) kept for the backward
        OpParams params{};
        BackwardFn backward = nullptr;
        std::uint32_t first_input = 0;  // into inputs_
        std::uint32_t num_inputs = 0;
        bool requires_grad = false;
        bool has_grad = false;  // grad() is meaningful: set by backward()
        bool grad_written = false;  // during backward(): some op has written into grad
        bool released = false;      // release() moved the value out
        bool grad_replaced = false; // a mistake VJP gave grad another shape (mutated pass)
        Matrix tangent;       // second order: d value / dt (Tape::jvp)
        Matrix grad_tangent;  // second order: d grad / dt (Tape::hvp)
        bool on_path = false;            // during jvp(): `out` depends on this node
        bool has_tangent = false;        // tangent is meaningful: set by jvp()
        bool has_grad_tangent = false;   // grad_tangent is meaningful: set by hvp()
        bool grad_tangent_written = false;  // as grad_written, for grad_tangent
        double forward_seconds = 0.0;
        double backward_seconds = 0.0;
    };

    Var push_node(const char* op, VarList inputs, std::size_t rows, std::size_t cols,
                  BackwardFn backward);
    template <class Forward>
    Var run_forward(Var out, Forward&& forward);
    // What a reverse pass computes: the gradients, the gradients and their tangents, or only the
    // tangents (the gradients of the same pass are current).
    enum class Pass { gradients, with_tangents, tangents_only };
    void backward_pass(const Var& out, const std::vector<Mutation>* mutations, Pass pass = Pass::gradients);
    [[noreturn]] void throw_no_second_order(std::size_t node, const char* what) const;
    // jvp(), checking also that every op has its vjp_tangent when it is for hvp()
    void forward_tangents(const Var& out, VarList wrt, const std::vector<Matrix>& directions, bool for_hvp);
    void run_without_path(std::size_t node, BackwardFn vjp, std::size_t input);
    void finish_forward(std::uint32_t index, double seconds);
    Var make_leaf(const char* op, const Matrix& value, std::string&& name, bool requires_grad,
                  Matrix* steal_from);
    // The per-op hot paths (checked, input_node) are inline; their error paths are not.
    Node& checked(const Var& v, const char* what) const;
    [[noreturn]] void throw_invalid(const Var& v, const char* what) const;
    const Node& input_node(const Node& n, std::size_t i) const;
    [[noreturn]] static void throw_no_input(const Node& n, std::size_t i);
    [[noreturn]] static void throw_released(const char* what);
    Node& grad_input_node(std::uint32_t node, std::size_t i) const;
    static double now_seconds();

    // One heap node each, kept across clear(): references stay valid while nodes are appended, and
    // indexing is one load (a deque of these ~200-byte nodes would hold 2 per block).
    std::vector<std::unique_ptr<Node>> nodes_;
    std::size_t count_ = 0;
    std::vector<std::uint32_t> inputs_;  // flat input lists of all nodes
    std::size_t input_count_ = 0;
    std::uint32_t slot_;          // in detail::live_tape_generations
    std::uint64_t generation_;    // changes at every clear()
    bool released_ = false;       // some leaf was released since the last clear(): graph finished
    // 1 + the node whose complete, unmutated backward() the gradients hold (0: none), so that
    // repeated hvp() on one graph computes the gradients once.
    std::size_t gradients_of_ = 0;
    bool detect_anomalies_ = false;
    bool timing_ = false;
};

template <class Forward>
Var Tape::run_forward(Var out, Forward&& forward) {
    Node& n = *nodes_[out.index_];
    const double start = timing_ ? now_seconds() : 0.0;
    try {
        if constexpr (std::is_invocable_v<Forward&, Matrix&, Matrix&>)
            forward(n.value, n.saved);
        else
            forward(n.value);
    } catch (...) {  // a forward that throws (a singular inv) leaves no node behind
        --count_;
        input_count_ -= n.num_inputs;
        throw;
    }
    finish_forward(out.index_, timing_ ? now_seconds() - start : 0.0);
    return out;
}

template <class Forward>
Var Tape::record(const OpDef& def, VarList inputs, std::size_t rows, std::size_t cols,
                 Forward&& forward, const OpParams& params) {
    Var out = push_node(def.name, inputs, rows, cols, def.vjp);
    Node& n = *nodes_[out.index_];
    n.def = &def;
    n.params = params;
    return run_forward(out, forward);
}

template <class Forward>
Var Tape::record(const char* op, VarList inputs, std::size_t rows, std::size_t cols,
                 Forward&& forward, BackwardFn backward) {
    return run_forward(push_node(op, inputs, rows, cols, backward), forward);
}

inline Var::Var(const Tape& tape, std::uint32_t index)
    : tape_(const_cast<Tape*>(&tape)), index_(index), slot_(tape.slot_), generation_(tape.generation_) {}

inline Tape::Node& Tape::checked(const Var& v, const char* what) const {
    if (v.tape_ != this || v.generation_ != generation_ || v.index_ >= count_) throw_invalid(v, what);
    return *nodes_[v.index_];
}

inline const Tape::Node& Tape::input_node(const Node& n, std::size_t i) const {
    if (i >= n.num_inputs) throw_no_input(n, i);
    return *nodes_[inputs_[n.first_input + i]];
}

inline const Matrix& Var::value() const {
    const Tape::Node& n = tape_of("value()").checked(*this, "value()");
    if (n.released) Tape::throw_released("value()");
    return n.value;
}
inline std::size_t Var::rows() const { return value().shape(0); }
inline std::size_t Var::cols() const { return value().shape(1); }

inline const Matrix& BackwardContext::output() const { return tape_.nodes_[node_]->value; }
inline const Matrix& BackwardContext::grad_output() const {
    return tangent_ ? tape_.nodes_[node_]->grad_tangent : tape_.nodes_[node_]->grad;
}
inline std::size_t BackwardContext::num_inputs() const { return tape_.nodes_[node_]->num_inputs; }
inline const Matrix& BackwardContext::input(std::size_t i) const {
    return tape_.input_node(*tape_.nodes_[node_], i).value;
}
inline bool BackwardContext::needs_grad(std::size_t i) const {
    return tape_.input_node(*tape_.nodes_[node_], i).requires_grad;
}
inline double BackwardContext::param(std::size_t k) const { return tape_.nodes_[node_]->params[k]; }
inline const Matrix& BackwardContext::saved() const { return tape_.nodes_[node_]->saved; }
inline const Matrix& BackwardContext::input_tangent(std::size_t i) const {
    return tape_.input_node(*tape_.nodes_[node_], i).tangent;
}
inline Matrix& BackwardContext::output_tangent() const { return tape_.nodes_[node_]->tangent; }

}  // namespace matgrad
