// Training an MLP on a table of samples, the loop `matgrad train` runs: choosing the task from the
// targets, the train/validation/test split, standardization, mini-batch training with early
// stopping and weight decay, and the evaluation in the target's own units.
//
//     nn::TrainOptions options;                       // the defaults of `matgrad train`
//     nn::TrainResult r = nn::train(X, y, names, "cultivar", options);
//     r.test.accuracy;  r.fit.best_epoch;  nn::save_model("model", r.model);
//
// Samples are columns, as everywhere in matgrad: X is features x n, y is 1 x n.
#pragma once

#include <nn/layers.hpp>
#include <nn/model.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace matgrad::io {
class CacheFile;
}

namespace matgrad::nn {

// ---- The task -------------------------------------------------------------------------------------

/// A task and why it was chosen.
struct TaskChoice {
    /// The task.
    Task task;
    std::string reason;  ///< e.g. "3 distinct integer labels (0, 1, 2)"
};

/// Automatic choice from the targets (1 x n): only 0 and 1 -> binary; integers with 3 to 20
/// distinct values -> multiclass; anything else -> regression (also integers with more distinct
/// values, or two that are not 0 and 1).
TaskChoice detect_task(const Matrix& y);

/// `task` if given (reason "given with --task"), else detect_task(y).
TaskChoice choose_task(const Matrix& y, std::optional<Task> task);

/// The coding of `task` for targets y (1 x n): binary needs labels 0 and 1 (TargetError at another
/// value, std::invalid_argument if one class is missing); multiclass maps the distinct integer
/// labels to 0..k-1 in increasing order (TargetError at a non-integer, std::invalid_argument for a
/// single class); regression leaves the scale at mean 0, std 1 -- train() fits it on the training
/// rows.
TargetCoding make_target_coding(Task task, const Matrix& y);

// ---- Splits ---------------------------------------------------------------------------------------

/// Sample indices (columns) of each part.
struct Split {
    ///@{
    /// Sample indices of the training, validation and test parts.
    std::vector<std::size_t> train, validation, test;
    ///@}
};

/// Classification: stratified, each class on its own; regression: all samples as one group. Each
/// group is shuffled (Fisher-Yates with Rng(seed)); its first round(test_fraction * size) samples
/// (at least 1, and 1 left) go to the test part, of the rest the next round(validation_fraction *
/// rest) (at least 1 if validation_fraction > 0, and 1 left) to the validation part, the others to
/// training. Throws std::invalid_argument for a class (or data set) of fewer than 2 samples, or a
/// validation_fraction > 0 that leaves no validation sample.
Split split_samples(const TargetCoding& coding, const Matrix& y, double test_fraction,
                    double validation_fraction, std::uint64_t seed);

/// The columns `indices` of `m`, in that order.
Matrix take_columns(const Matrix& m, const std::vector<std::size_t>& indices);

// ---- The training loop ----------------------------------------------------------------------------

/// The loss `task` trains with, from the network's last linear output Z and the coded targets Y:
/// binary_cross_entropy_with_logits, softmax_cross_entropy or mse.
Var task_loss(Task task, const Var& Z, const Var& Y);

/// The weight decay of every task unless given: on the three data sets of data/ (seeds 1-20) it
/// keeps regression from overfitting diabetes.csv and lifts the classifiers' mean and worst test
/// accuracy (README, "Training on your own data").
inline constexpr double default_weight_decay = 1.0;

/// How fit() trains.
struct FitOptions {
    std::string optimizer = "adam";  ///< "adam" (AdamW with weight_decay > 0) or "sgd"
    /// The optimizer's step size.
    double learning_rate = 0.01;
    /// L2 for SGD, decoupled for Adam (<nn/optim.hpp>).
    double weight_decay = default_weight_decay;
    /// Passes over the training part (fewer with early stopping).
    std::size_t epochs = 200;
    std::size_t batch = 32;     ///< >= the training samples: full batch
    /// Stop after this many epochs without a lower validation loss and restore the best epoch's
    /// parameters; 0 trains every epoch and keeps the last parameters.
    std::size_t patience = 10;
    std::uint64_t seed = 1;  ///< the mini-batch order
    /// Evaluate the parts (history, early stopping, the divergence check, FitHooks::epoch_done)
    /// after every k-th epoch and the last one; patience still counts epochs. 1: every epoch.
    std::size_t evaluate_every = 1;
    /// The shuffle: 0 shuffles all training samples every epoch. k > 0 cuts the samples (by their
    /// row in the data) into blocks of k consecutive rows; each epoch visits the blocks in a
    /// shuffled order and the training samples of each block in a shuffled order, so that training
    /// from a CSV's cache reads each block once an epoch. The order depends only on the training
    /// rows, k and the seed: train() in memory with block k trains the same weights, bit for bit,
    /// as train() streamed from the CSV's cache with block k.
    std::size_t block = 0;
};

/// One part of the data, features standardized and targets coded: X features x n, Y outputs x n.
struct Part {
    ///@{
    /// Features (features x n, standardized) and coded targets (outputs x n).
    Matrix X, Y;
    ///@}
    /// true for a part without samples.
    bool empty() const { return X.size() == 0; }
};

/// The parts fit() trains on (train), stops early on (validation) and reports (test).
struct FitData {
    ///@{
    /// The parts; validation (needed when patience > 0) and test may be empty.
    Part train, validation, test;
    ///@}
};

/// Losses and the task's metric (accuracy, or R² -- the same on the standardized target as in its
/// units) after an epoch; NaN for an empty part.
struct EpochRecord {
    /// 1-based epoch number.
    std::size_t epoch = 0;
    ///@{
    /// The loss on each part.
    double train_loss = 0, validation_loss = 0, test_loss = 0;
    ///@}
    ///@{
    /// The task's metric on the training and test parts.
    double train_metric = 0, test_metric = 0;
    ///@}
};

/// What fit() did.
struct FitResult {
    /// One record per evaluated epoch (every epoch unless FitOptions::evaluate_every > 1).
    std::vector<EpochRecord> history;
    std::size_t best_epoch = 0;  ///< the epoch whose parameters the model holds after fit()
    bool stopped_early = false;  ///< patience ran out before the last epoch
    bool interrupted = false;    ///< stop_requested() said so
    /// Full epochs trained (the last evaluated one unless interrupted; the history may hold fewer).
    std::size_t epochs = 0;
    /// Optimizer steps taken.
    std::size_t steps = 0;
    /// Wall-clock training time.
    double seconds = 0;
};

/// Callbacks of fit(): progress and interruption.
struct FitHooks {
    std::function<void(const EpochRecord&)> epoch_done;  ///< after each epoch's evaluation
    std::function<bool()> stop_requested;                ///< polled after every step
};

/// Trains `model` (already initialized) for `task` on data.train with mini-batches shuffled every
/// epoch, evaluating every part after each epoch. With patience > 0 the parameters of the epoch
/// with the lowest validation loss are restored at the end (also when interrupted after at least
/// one epoch). Throws std::invalid_argument for patience > 0 without validation data or an
/// unknown optimizer, NumericalError when the training loss stops being finite.
FitResult fit(MLP& model, Task task, const FitData& data, const FitOptions& options,
              const FitHooks& hooks = {});

// ---- The whole pipeline ---------------------------------------------------------------------------

/// fit()'s options plus the network and the split.
struct TrainOptions : FitOptions {
    std::optional<Task> task;  ///< empty: detect_task
    /// Hidden layer sizes.
    std::vector<std::size_t> hidden{32};
    /// The hidden layers' activation.
    Activation activation = Activation::relu;
    /// Share of each class (or of all samples) held out for testing.
    double test_fraction = 0.2;
    /// Share of the rest held out for early stopping.
    double validation_fraction = 0.1;
};

/// A model's loss (as trained: standardized target for regression) and metrics in the target's
/// units; NaN where the task has no such metric.
struct Evaluation {
    ///@{
    /// The loss, and accuracy (classification) or R² and RMSE (regression); NaN where not defined.
    double loss = 0, accuracy = 0, r2 = 0, rmse = 0;
    ///@}
};

/// What train() returns.
struct TrainResult {
    /// The trained model.
    Model model;
    /// Which samples went where.
    Split split;
    /// The training run.
    FitResult fit;
    ///@{
    /// The final model on the training and test parts.
    Evaluation train, test;  ///< of the final model (the restored best epoch)
    ///@}
    /// The block size of the shuffle (FitOptions::block; for a streamed train(), from the budget).
    std::size_t block_rows = 0;
};

/// Chooses the task (choose_task), codes the targets, splits with options.seed,
/// standardizes features (and a regression target) with the training part's statistics, builds
/// the MLP (sizes: features, hidden..., outputs; sigmoid output for binary, linear otherwise),
/// initializes it with options.seed, fits and evaluates it. Throws TargetError / invalid_argument
/// for unusable targets (see make_target_coding, split_samples).
///
/// Memory: X is standardized in place (pass it with std::move to avoid a copy); the split, the
/// per-epoch shuffle and every evaluation work by sample index, gathering mini-batches and
/// evaluation chunks of at most 8192 samples into buffers reused every epoch. Besides X and y,
/// train() holds the coded targets, a few index lists and those buffers.
TrainResult train(Matrix X, const Matrix& y, std::vector<std::string> feature_names,
                  std::string label, const TrainOptions& options, const FitHooks& hooks = {});

// ---- Data larger than memory ---------------------------------------------------------------------

/// Whether train() on the data in memory stays within `budget` bytes for a CSV of rows x columns:
/// its peak stays below twice the data as doubles (measured 1.5x, tests/cli/test_large_csv.cpp),
/// so it fits if twice the data does.
bool fits_in_memory(std::size_t budget, std::size_t rows, std::size_t columns);

/// How a streamed train() spends its memory budget.
struct StreamingPlan {
    /// Rows per block of the shuffle (FitOptions::block).
    std::size_t block_rows = 0;
    /// What does not depend on the block: labels and coded targets (8 bytes per row per output and
    /// for the label), the split's index lists and the epoch's order (8 + 8 bytes per row, and 8
    /// more while splitting), the fingerprints of the rows fitted or validated on (Model::seen_rows,
    /// 8 bytes per row; saving the model copies them once the order and labels are freed), the
    /// batch and evaluation buffers, and 4 MiB of headroom for memory the allocator keeps after a
    /// free.
    std::size_t fixed_bytes = 0;
};

/// The block size that keeps a streamed train() on `rows` samples of `features` features and
/// `outputs` network outputs within `budget` bytes: what remains of the budget after the fixed
/// part, divided by the block buffer's 8 bytes per feature per row (one block of the file is in
/// memory at a time). Throws std::invalid_argument naming the least budget if not even blocks of
/// 64 rows fit.
StreamingPlan plan_streaming(std::size_t budget, std::size_t rows, std::size_t features, std::size_t outputs,
                             const TrainOptions& options);

/// choose_task on column `label_column` of a CSV's cache (read for the choice).
TaskChoice choose_task(const io::CacheFile& data, std::size_t label_column, std::optional<Task> task);

/// train() from a CSV's cache (io::convert_csv_to_cache makes it; the label is column
/// `label_column`, every other column a feature), holding in memory only the labels, index lists,
/// the seen rows' fingerprints, batch buffers and one block of the file, read into a buffer with
/// pread (io::CacheFile::read_rows) -- no mapping, so the file's pages stay in the page cache and
/// out of the process's RSS. Batches follow the block order of FitOptions::block (options.block,
/// or from plan_streaming with `memory_budget` if 0), reading each block once per epoch;
/// standardization statistics (two passes), the fingerprints and every evaluation are passes over
/// the part's rows in order (each part's index list is ascending). The result equals train() on
/// the same values in memory with options.block set to the same size, bit for bit. Throws the
/// cache's InputError if the file is truncated while being read.
TrainResult train(const io::CacheFile& data, std::size_t label_column, const TrainOptions& options,
                  std::size_t memory_budget, const FitHooks& hooks = {});

/// Evaluates `model` on raw features X (features x n) against raw targets y (1 x n), a chunk of
/// samples at a time.
Evaluation evaluate(const Model& model, const Matrix& X, const Matrix& y);

/// evaluate() over samples that arrive a block at a time (`matgrad predict` reading a CSV): the
/// same result, up to rounding, as evaluate() on all of them at once.
class Evaluator {
public:
    /// `model` must outlive the evaluator.
    explicit Evaluator(const Model& model);
    /// The next samples: raw features (features x k) and raw targets (1 x k). Throws TargetError
    /// (its sample counted from the first sample of this block) for a label the model does not know.
    void add(const Matrix& X, const Matrix& y);
    /// The same for features already standardized with model.features.
    void add_standardized(const Matrix& X, const Matrix& y);
    /// Over every sample added so far.
    Evaluation result() const;

private:
    const Model& model_;
    MLP mlp_;  // a copy: logits() records the parameters' Vars in it
    Tape tape_;
    std::size_t samples_ = 0, correct_ = 0;
    // Sums over the samples: the loss (mean per block times its size), the squared error in the
    // target's units, and the targets' running mean and squared deviations (Welford).
    double loss_ = 0, squared_error_ = 0, mean_ = 0, deviations_ = 0;
};

}  // namespace matgrad::nn
