// Layers as graph builders on a Tape, in the slides' layout: samples are COLUMNS, Z = W A + b with
// W out x in and b out x 1 (added to every column).
//
// Parameters live in the model as plain Matrix values. Each training step puts them on the tape
// (tape.variable), and after tape.backward(loss) the model hands out pointers to the values and to
// the gradients for an optimizer:
//
//     tape.clear();
//     Var J = binary_cross_entropy_with_logits(model.logits(tape, tape.constant(X)), tape.constant(Y));
//     tape.backward(J);
//     optimizer.step(model.parameters(), model.gradients());
//
// Once shapes repeat, such a step allocates nothing (the tape keeps its buffers, the pointer lists
// are kept in the model).
#pragma once

#include <autodiff/tape.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace matgrad::nn {

// ---- Activations (the ops are the engine's: matgrad::sigmoid, matgrad::relu, matgrad::tanh) ------

/// The activation a Linear layer's output goes through in an MLP.
enum class Activation { sigmoid, relu, tanh, identity };

/// Applies `f` to x (identity returns x itself, recording nothing).
Var activate(Activation f, const Var& x);
/// "sigmoid", "relu", "tanh", "identity"
const char* activation_name(Activation f);
/// The inverse of activation_name; throws std::invalid_argument naming the accepted names.
Activation parse_activation(const std::string& name);

// ---- Shapes --------------------------------------------------------------------------------------

/// Checks that MLP parameters chain: as many W as b (at least one layer), W[l] non-empty, b[l] is
/// rows(W[l]) x 1, cols(W[l]) = rows(W[l-1]). With X (features x samples) also cols(W1) = rows(X);
/// with Y also Y is rows(W_L) x cols(X). Throws std::invalid_argument naming the offending array by
/// the slides' 1-based names, e.g. "W2 is 1x32 but A1 has 64 rows".
void check_mlp_shapes(const std::vector<Matrix>& W, const std::vector<Matrix>& b,
                      const Matrix* X = nullptr, const Matrix* Y = nullptr);

/// Throws std::invalid_argument unless every element of `labels` is exactly 0 or 1, naming the
/// first offender: "Y(0,3) = 0.5 is not 0 or 1".
void check_binary_labels(const Matrix& labels, const std::string& name = "Y");

/// Throws std::invalid_argument at the first NaN or Inf: "X(2,5) is nan".
void check_finite(const Matrix& m, const std::string& name);

// ---- Linear --------------------------------------------------------------------------------------

/// Z = W A + b for a column-per-sample A (in x n): W out x in, b out x 1.
class Linear {
public:
    /// All-zero parameters; initialize them with <nn/init.hpp>.
    Linear(std::size_t in, std::size_t out);
    /// Given parameters; throws std::invalid_argument unless b is rows(W) x 1.
    Linear(Matrix W, Matrix b);

    /// Inputs (columns of W).
    std::size_t in() const { return W.shape(1); }
    /// Outputs (rows of W).
    std::size_t out() const { return W.shape(0); }

    /// Puts W and b on A's tape as variables and returns Z = W A + b. With index l > 0 the nodes
    /// are named Wl, bl, Zl (the slides' names); the variables are kept for grad_W()/grad_b().
    Var forward(const Var& A, std::size_t index = 0);
    /// forward() that moves W and b onto the tape instead of copying them: both are empty until
    /// take_back() moves them back with Tape::release (which finishes the graph; the gradients
    /// stay readable). Costs no copy of the parameters per training step.
    Var forward_on_loan(const Var& A, std::size_t index = 0);
    /// Moves W and b back from the tape after forward_on_loan(); does nothing otherwise.
    void take_back();

    /// d loss / dW and d loss / db after tape.backward() on a graph built by the last forward().
    /// Throws UsageError if the tape was cleared since.
    const Matrix& grad_W() const { return W_on_tape_.grad(); }
    /// d loss / d b after backward().
    const Matrix& grad_b() const { return b_on_tape_.grad(); }

    Matrix W;  ///< out x in
    Matrix b;  ///< out x 1

private:
    Var W_on_tape_;
    Var b_on_tape_;
    bool on_loan_ = false;  // W and b are on the tape (forward_on_loan)
    Var record(const Var& A, std::size_t index, bool lend);
};

/// Z = W A + b on the tape from Vars (the graph Linear::forward builds), named `name` if non-empty.
Var affine(const Var& W, const Var& A, const Var& b, std::string name = "");

// ---- MLP -----------------------------------------------------------------------------------------

/// A stack of Linear layers with an activation after each. sizes = {inputs, hidden..., outputs}:
/// MLP({10, 64, 1}) is the slides' network (sigmoid on every layer, the default).
class MLP {
public:
    /// Zero parameters; call init() (or set layer(l).W / .b) before training.
    explicit MLP(const std::vector<std::size_t>& sizes, Activation hidden = Activation::sigmoid,
                 Activation output = Activation::sigmoid);
    /// From given parameters, W[0] being the slides' W1; shapes are checked by check_mlp_shapes.
    MLP(std::vector<Matrix> W, std::vector<Matrix> b, Activation hidden = Activation::sigmoid,
        Activation output = Activation::sigmoid);

    /// Seeded initialization of every layer by init_layer() (<nn/init.hpp>): Xavier/Glorot for
    /// sigmoid, tanh and identity layers, He for relu layers; biases zero.
    void init(std::uint64_t seed);

    std::size_t depth() const { return layers_.size(); }  ///< L, the number of Linear layers
    /// Layer sizes, inputs first.
    std::vector<std::size_t> sizes() const;
    /// The activation of the hidden layers.
    Activation hidden_activation() const { return hidden_; }
    /// The activation of the last layer.
    Activation output_activation() const { return output_; }
    /// Layer l = 1..L (the slides' numbering).
    Linear& layer(std::size_t l);
    /// Layer l (1-based).
    const Linear& layer(std::size_t l) const;

    /// Records the network on X's tape and returns A[L] (the output activation applied). Nodes are
    /// named W1, b1, Z1, A1, ... as in the slides.
    Var forward(const Var& X);
    /// The same graph without the output activation: Z[L], for binary_cross_entropy_with_logits.
    Var logits(const Var& X);
    /// logits() with every layer's parameters moved onto the tape (Linear::forward_on_loan), for a
    /// training step or an evaluation that copies no parameter; the layers' W and b are empty
    /// until take_back_parameters(), which follows the backward pass (if any).
    Var logits_on_loan(const Var& X);
    /// Moves every lent W and b back from the tape (Linear::take_back).
    void take_back_parameters();

    /// Pointers to W1, b1, W2, b2, ... (in that order), for an optimizer. Stay valid while the
    /// model is neither moved nor copied.
    const std::vector<Matrix*>& parameters();
    /// Pointers to their gradients after tape.backward() on the graph of the last forward()/
    /// logits(), in the order of parameters(). Throws UsageError if that tape was cleared since.
    const std::vector<const Matrix*>& gradients();

    /// The output A[L] for X (features x samples) on a private tape: probabilities for a sigmoid
    /// output layer. Throws std::invalid_argument if X has the wrong number of rows.
    Matrix predict(const Matrix& X) const;

private:
    Var record_logits(const Var& X, bool lend);
    std::vector<Linear> layers_;
    Activation hidden_;
    Activation output_;
    std::vector<Matrix*> parameter_ptrs_;        // refilled by parameters(), capacity kept
    std::vector<const Matrix*> gradient_ptrs_;   // refilled by gradients(), capacity kept
};

}  // namespace matgrad::nn
