// A trained model as `matgrad train` saves it and `matgrad predict` applies it: the MLP, the task it
// solves, how its targets are coded (class labels, or the target's standardization) and the
// standardization of its features -- and the model directory that holds all of it:
//   model.json   {"format": "matgrad-mlp", "version": 2, "task": "multiclass",
//                 "task_reason": "...", "classes": [1, 2, 3],          (classification)
//                 "target_mean": 152.1, "target_std": 77.0,            (regression)
//                 "sizes": [13, 32, 3], "hidden_activation": "relu", "output_activation": "identity",
//                 "features": [...column names...], "label": "cultivar"}
//   W1.npy, b1.npy, ..., WL.npy, bL.npy   the MLP's parameters (W out x in, b out x 1)
//   mean.npy, std.npy                     features x 1: the training rows' standardization
//   seen_rows.npy                         1 x k: row_fingerprint of every row the model was fitted or
//                                         validated on, sorted (absent in older models)
// Version 1 (binary only, before tasks existed) is still read: it is a binary model of 0/1 labels.
#pragma once

#include <nn/layers.hpp>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace matgrad::nn {

/// binary: 0/1 labels, one sigmoid output, binary cross-entropy. multiclass: k classes, k logits,
/// softmax cross-entropy. regression: one linear output, mean squared error on the standardized
/// target.
enum class Task { binary, multiclass, regression };
const char* task_name(Task task);  ///< "binary", "multiclass", "regression"
/// The inverse of task_name; throws std::invalid_argument naming the accepted names.
Task parse_task(const std::string& name);

/// A target value the task cannot use. `sample` is its 0-based index, so that a caller can name
/// the line of the file it came from.
class TargetError : public std::invalid_argument {
public:
    /// An error at sample `sample_index` (0-based).
    TargetError(std::size_t sample_index, const std::string& message)
        : std::invalid_argument(message), sample(sample_index) {}
    /// The 0-based index of the sample.
    std::size_t sample;
};

/// Per-row (feature) standardization (x - mean) / std of a features x samples matrix.
struct Standardization {
    Matrix mean;  ///< rows x 1
    Matrix std;   ///< rows x 1, all > 0
    /// The mean and (population) std of each row of X over its columns. A constant row gets std 1,
    /// so it standardizes to 0 instead of dividing by zero.
    static Standardization of(const Matrix& X);
    /// The same over the given columns of X only (the training samples), without copying them.
    static Standardization of(const Matrix& X, const std::vector<std::size_t>& columns);
    /// A piece of the samples: rows[f][positions[i]] is feature f of the piece's i-th sample.
    using Piece = std::function<void(const std::vector<const double*>& rows, const std::vector<std::size_t>& positions)>;
    /// The same over `features` features of samples that arrive a piece at a time (a file's rows a
    /// block at a time): pass(add) goes over the samples in order, calling add for each piece. It
    /// is called twice (the means, then the deviations from them); the numbers are those of the
    /// other overloads for the same samples in the same order, bit for bit.
    static Standardization of(std::size_t features, const std::function<void(const Piece& add)>& pass);
    Matrix apply(const Matrix& X) const;  ///< (X - mean) / std
    /// X = (X - mean) / std without a second copy of X; the same numbers as apply().
    void apply_in_place(Matrix& X) const;
    Matrix undo(const Matrix& Z) const;   ///< Z * std + mean
};

/// How a task's targets (1 x n, as in the file) become what the network is trained on, and back.
struct TargetCoding {
    /// The task the targets are coded for.
    Task task = Task::binary;
    /// Classification: the original label of class 0, 1, ..., sorted ({0, 1} for binary).
    std::vector<double> classes;
    /// Regression: the training rows' target mean and std (1 x 1 each).
    Standardization scale{Matrix{{0.0}}, Matrix{{1.0}}};

    /// Rows of the network's output: the classes for multiclass, else 1.
    std::size_t outputs() const { return task == Task::multiclass ? classes.size() : 1; }
    /// The class index of every label; TargetError at the first label that is not a class.
    std::vector<std::size_t> class_indices(const Matrix& y) const;
    /// The network's targets: binary 1 x n of 0/1, multiclass k x n one-hot columns, regression the
    /// standardized 1 x n target.
    Matrix encode(const Matrix& y) const;
};

/// What a model says about samples.
struct Prediction {
    Matrix values;         ///< 1 x n: class labels (original values) or targets (original units)
    Matrix probabilities;  ///< classification: classes x n, row i the probability of classes[i]
};

/// A trained model: the network, how targets and features are coded, and the column names.
struct Model {
    /// The network (features in, outputs out).
    MLP mlp;
    /// How targets map to outputs and back.
    TargetCoding target;
    /// The training rows' feature standardization.
    Standardization features;
    /// The feature columns, in the order the network reads them.
    std::vector<std::string> feature_names;
    /// The target column's name.
    std::string label;
    std::string task_reason;  ///< why this task was chosen, as printed by `matgrad train`
    /// row_fingerprint of every row fitted or validated on, sorted and unique: predict tells which
    /// of its rows trained the model (empty: not known, e.g. a model saved by an older matgrad).
    std::vector<std::uint64_t> seen_rows;

    /// For X of features x samples in the file's units.
    Prediction predict(const Matrix& X) const;
    /// For X already standardized with `features` (predict(X) is predict_standardized(features.apply(X))).
    Prediction predict_standardized(const Matrix& X) const;
    /// For each column of X (features x n, in the file's units): whether it is a row the model was
    /// fitted or validated on (by its fingerprint: two different rows agree with probability 2^-52).
    std::vector<bool> saw(const Matrix& X) const;
};

/// A 52-bit hash of sample j, whose feature i is features[i][j] (in the file's units; -0 counts
/// as 0): an integer exact in a double, so that a model directory keeps them as a float64 .npy.
std::uint64_t row_fingerprint(const std::vector<const double*>& features, std::size_t j);

/// Refuses (io::InputError) to use `dir` as a model destination when it exists and is neither
/// empty nor a matgrad model directory: replacing it would delete someone's files.
void check_model_destination(const std::string& dir);

/// Writes every file into a temporary directory beside `dir`, then swaps it into place in one
/// rename (io::publish_directory): a failure never leaves a partial model or damages the old one.
void save_model(const std::string& dir, const Model& model);
/// The files of save_model, written into the existing, empty directory `dir` (e.g. an
/// io::OutputSet's stage_directory, renamed into place with a command's other outputs).
void write_model_files(const std::string& dir, const Model& model);

/// Reads and cross-checks a model directory of version 1 or 2; io::InputError names the file at
/// fault (and the version, for a model written by a newer matgrad).
Model load_model(const std::string& dir);

}  // namespace matgrad::nn
