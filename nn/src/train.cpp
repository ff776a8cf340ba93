// The training pipeline of <nn/train.hpp>: task choice, splits, the loop with early stopping.
#include "label_text.hpp"

#include <nn/init.hpp>
#include <nn/losses.hpp>
#include <nn/optim.hpp>
#include <nn/train.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <set>
#include <tuple>

namespace matgrad::nn {

namespace {

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr std::size_t max_auto_classes = 20;

bool is_integer(double v) { return std::floor(v) == v; }

void shuffle(std::vector<std::size_t>& items, Rng& rng) {  // Fisher-Yates with the portable Rng
    for (std::size_t i = items.size(); i-- > 1;)
        std::swap(items[i], items[static_cast<std::size_t>(rng.uniform() * static_cast<double>(i + 1))]);
}

/// The task's metric from the network's last linear output Z and coded targets Y.
double task_metric(Task task, const Matrix& Z, const Matrix& Y) {
    switch (task) {
        case Task::binary: return accuracy(Z, Y, 0.0);  // z >= 0 <=> σ(z) >= 0.5
        case Task::multiclass: return argmax_accuracy(Z, Y);
        case Task::regression: return r2_score(Z, Y);
    }
    return not_a_number;
}

std::unique_ptr<Optimizer> make_optimizer(const FitOptions& o) {
    if (o.optimizer == "sgd") return std::make_unique<SGD>(o.learning_rate, o.weight_decay);
    if (o.optimizer == "adam") return std::make_unique<Adam>(o.learning_rate, 0.9, 0.999, 1e-8, o.weight_decay);
    throw std::invalid_argument("fit: unknown optimizer '" + o.optimizer + "' (use adam or sgd)");
}

/// Gives `m` the shape rows x cols, keeping its buffer when the size is unchanged.
void reshape(Matrix& m, std::size_t rows, std::size_t cols) {
    if (m.shape(0) != rows || m.shape(1) != cols) m.resize({rows, cols});
}

/// Samples as columns of matrices shared with other parts: the data is never copied per part.
struct Columns {
    const Matrix* X = nullptr;  ///< features x all samples
    const Matrix* Y = nullptr;  ///< targets x all samples (coded, or raw for evaluate)
    const std::vector<std::size_t>* index = nullptr;  ///< this part's samples; null: every column

    std::size_t size() const { return X == nullptr ? 0 : index ? index->size() : X->shape(1); }
    std::size_t at(std::size_t k) const { return index ? (*index)[k] : k; }
};

Columns all_columns(const Part& part) { return part.empty() ? Columns{} : Columns{&part.X, &part.Y, nullptr}; }

/// to = the columns order(first) .. order(first + count - 1) of `from`, in that order.
template <class Order>
void gather_columns(const Matrix& from, const Order& order, std::size_t first, std::size_t count, Matrix& to) {
    const std::size_t rows = from.shape(0), cols = from.shape(1);
    reshape(to, rows, count);
    for (std::size_t r = 0; r < rows; ++r) {
        const double* source = from.data() + r * cols;
        double* target = to.data() + r * count;
        for (std::size_t k = 0; k < count; ++k) target[k] = source[order(first + k)];
    }
}

/// Samples evaluated per forward pass: bounds the memory of evaluating a large part.
constexpr std::size_t evaluation_chunk = 8192;

/// The tape and inputs of the mini-batches of one size. An epoch has at most two sizes (the batch
/// and the remainder n % batch); a slot for each keeps every node's buffer at its shape, so a
/// steady-state epoch allocates nothing. Evaluation uses slots the same way, a chunk at a time.
struct BatchSlot {
    Tape tape;
    Part part;
    bool holds_whole_part = false;  ///< evaluation: `part` is all of a one-chunk part, kept for the fit

    /// The samples order(first) .. order(first + count - 1) of `from` into this slot's part.
    template <class Order>
    const Part& gather(const Columns& from, const Order& order, std::size_t first, std::size_t count) {
        gather_columns(*from.X, order, first, count, part.X);
        gather_columns(*from.Y, order, first, count, part.Y);
        return part;
    }

    /// `model`'s logits Z and the targets Y of the slot's part, recorded on its cleared tape with
    /// nothing copied: the part and the model's parameters are moved onto the tape until the
    /// Recording ends (after the backward pass, for a training step), also by an exception.
    class Recording {
    public:
        Recording(BatchSlot& slot, MLP& model) : slot_(slot), model_(model) {
            Tape& tape = slot.tape;
            tape.clear();
            X_ = tape.constant(std::move(slot.part.X), "X");  // non-empty parts: these do not throw
            Y = tape.constant(std::move(slot.part.Y), "Y");
            try {
                Z = model.logits_on_loan(X_);
            } catch (...) {  // e.g. a ShapeError: the model and the part stay whole
                give_back();
                throw;
            }
        }
        ~Recording() { give_back(); }
        Recording(const Recording&) = delete;
        Recording& operator=(const Recording&) = delete;
        Var Z, Y;

    private:
        void give_back() {
            model_.take_back_parameters();
            slot_.part.X = slot_.tape.release(X_);
            slot_.part.Y = slot_.tape.release(Y);
        }
        BatchSlot& slot_;
        MLP& model_;
        Var X_;
    };
};

/// Calls chunk(X, Y, count) for the samples of `part` a chunk at a time, gathered into `slot`
/// (a part that is one whole matrix and a single chunk is passed as it is, without a copy).
template <class Chunk>
void for_each_chunk(const Columns& part, BatchSlot& slot, Chunk&& chunk) {
    const std::size_t n = part.size();
    if (part.index == nullptr && n <= evaluation_chunk) {
        chunk(*part.X, *part.Y, n);
        return;
    }
    for (std::size_t first = 0; first < n; first += evaluation_chunk) {
        const std::size_t count = std::min(evaluation_chunk, n - first);
        const Part& gathered = slot.gather(part, [&](std::size_t k) { return part.at(k); }, first, count);
        chunk(gathered.X, gathered.Y, count);
    }
}

/// Loss and metric of `model` on a part, a chunk at a time on `slot`; NaN for an empty part.
/// Losses and accuracies are means over the samples, so chunks combine by their sizes; R² comes
/// from the squared error the MSE loss already sums. The parts do not change during a fit, so a
/// part of one chunk is gathered into its slot once and then evaluated without any copy.
std::pair<double, double> loss_and_metric(MLP& model, Task task, BatchSlot& slot, const Columns& part) {
    const std::size_t n = part.size();
    if (n == 0) return {not_a_number, not_a_number};
    double loss = 0, metric = 0;
    for (std::size_t first = 0; first < n; first += evaluation_chunk) {
        const std::size_t count = std::min(evaluation_chunk, n - first);
        if (!slot.holds_whole_part) slot.gather(part, [&](std::size_t k) { return part.at(k); }, first, count);
        slot.holds_whole_part = count == n;
        const BatchSlot::Recording on_tape(slot, model);
        const double J = task_loss(task, on_tape.Z, on_tape.Y).value()(0, 0);
        const double share = static_cast<double>(count) / static_cast<double>(n);
        loss += J * share;
        if (task != Task::regression) metric += task_metric(task, on_tape.Z.value(), on_tape.Y.value()) * share;
    }
    if (task == Task::regression) {  // 1 - SSE / SST; SSE = n * loss (one output)
        double mean = 0.0, total = 0.0;
        for (std::size_t k = 0; k < n; ++k) mean += (*part.Y)(0, part.at(k)) / static_cast<double>(n);
        for (std::size_t k = 0; k < n; ++k) total += ((*part.Y)(0, part.at(k)) - mean) * ((*part.Y)(0, part.at(k)) - mean);
        metric = 1.0 - loss * static_cast<double>(n) / total;
    }
    return {loss, metric};
}

}  // namespace

TaskChoice detect_task(const Matrix& y) {
    std::set<double> values;
    bool integers = true;
    for (const double v : y) {
        integers = integers && is_integer(v);
        if (values.size() <= max_auto_classes) values.insert(v);
    }
    if (std::all_of(values.begin(), values.end(), [](double v) { return v == 0.0 || v == 1.0; }))
        return {Task::binary, "every label is 0 or 1"};
    if (!integers) return {Task::regression, "the target has non-integer values"};
    if (values.size() > max_auto_classes)
        return {Task::regression, "the target has more than " + std::to_string(max_auto_classes) +
                                      " distinct integer values"};
    if (values.size() >= 3)
        return {Task::multiclass, std::to_string(values.size()) + " distinct integer labels (" +
                                      label_list_text(values) + ")"};
    return {Task::regression, "the target has " + std::to_string(values.size()) +
                                  " distinct values other than 0/1 (" + label_list_text(values) +
                                  "); --task multiclass treats them as classes"};
}

TaskChoice choose_task(const Matrix& y, std::optional<Task> task) {
    return task ? TaskChoice{*task, "given with --task"} : detect_task(y);
}

TargetCoding make_target_coding(Task task, const Matrix& y) {
    TargetCoding coding;
    coding.task = task;
    if (task == Task::regression) {
        // A constant target has no variance to explain: R² is undefined (it printed -2.9e26).
        const auto [low, high] = std::minmax_element(y.begin(), y.end());
        if (y.size() > 1 && *low == *high)  // (one row: the split says it needs two)
            throw std::invalid_argument("every target value is " + label_text(*low) +
                                        "; a regressor needs a target that varies (R2 is undefined for a constant one)");
        return coding;
    }
    std::set<double> values;
    for (std::size_t j = 0; j < y.size(); ++j) {
        if (task == Task::binary && y(0, j) != 0.0 && y(0, j) != 1.0)
            throw TargetError(j, "the label is " + label_text(y(0, j)) + "; labels must be 0 or 1");
        if (!is_integer(y(0, j)))
            throw TargetError(j, "the label is " + label_text(y(0, j)) + "; class labels must be integers");
        values.insert(y(0, j));
    }
    if (values.size() < 2)
        throw std::invalid_argument("every label is " + label_text(*values.begin()) +
                                    "; a classifier needs rows of " +
                                    (task == Task::binary ? "both classes 0 and 1" : "at least two classes"));
    if (task == Task::binary) values = {0.0, 1.0};
    coding.classes.assign(values.begin(), values.end());
    return coding;
}

Split split_samples(const TargetCoding& coding, const Matrix& y, double test_fraction,
                    double validation_fraction, std::uint64_t seed) {
    const bool stratified = coding.task != Task::regression;
    std::vector<std::vector<std::size_t>> groups(stratified ? coding.classes.size() : 1);
    if (stratified) {
        const std::vector<std::size_t> index = coding.class_indices(y);
        for (std::size_t j = 0; j < index.size(); ++j) groups[index[j]].push_back(j);
    } else {
        for (std::size_t j = 0; j < y.size(); ++j) groups[0].push_back(j);
    }
    Rng rng(seed);
    Split split;
    for (std::size_t g = 0; g < groups.size(); ++g) {
        std::vector<std::size_t>& rows = groups[g];
        if (rows.size() < 2)
            throw std::invalid_argument(
                stratified ? "class " + label_text(coding.classes[g]) + " has only " + std::to_string(rows.size()) +
                                 " row; the stratified train/test split needs at least 2 rows of each class"
                           : "has " + std::to_string(rows.size()) + " row; the train/test split needs at least 2");
        shuffle(rows, rng);
        const auto share = [](double fraction, std::size_t count, std::size_t at_least) {
            const auto wanted = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(count)));
            return std::clamp<std::size_t>(wanted, std::min(at_least, count - 1), count - 1);
        };
        const std::size_t n_test = share(test_fraction, rows.size(), 1);
        const std::size_t n_validation = share(validation_fraction, rows.size() - n_test, validation_fraction > 0);
        split.test.insert(split.test.end(), rows.begin(), rows.begin() + n_test);
        split.validation.insert(split.validation.end(), rows.begin() + n_test, rows.begin() + n_test + n_validation);
        split.train.insert(split.train.end(), rows.begin() + n_test + n_validation, rows.end());
    }
    if (validation_fraction > 0 && split.validation.empty())
        throw std::invalid_argument("too few rows to hold out a validation share for early stopping "
                                    "(use a validation fraction of 0 and patience 0)");
    return split;
}

Matrix take_columns(const Matrix& m, const std::vector<std::size_t>& indices) {
    Matrix out({m.shape(0), indices.size()});
    for (std::size_t r = 0; r < m.shape(0); ++r)
        for (std::size_t k = 0; k < indices.size(); ++k) out(r, k) = m(r, indices[k]);
    return out;
}

Var task_loss(Task task, const Var& Z, const Var& Y) {
    switch (task) {
        case Task::binary: return binary_cross_entropy_with_logits(Z, Y);
        case Task::multiclass: return softmax_cross_entropy(Z, Y);
        case Task::regression: return mse(Z, Y);
    }
    throw std::invalid_argument("task_loss: unknown task");
}

namespace {

/// fit() on parts given by their columns in shared matrices (train() passes one standardized
/// matrix and the split's indices, so no part is copied).
FitResult fit_columns(MLP& model, Task task, const Columns& train, const Columns& validation, const Columns& test,
                      const FitOptions& options, const FitHooks& hooks) {
    const bool early_stopping = options.patience > 0;
    if (early_stopping && validation.size() == 0)
        throw std::invalid_argument("fit: early stopping (patience > 0) needs validation data");
    if (train.size() == 0 || options.batch == 0 || options.evaluate_every == 0)
        throw std::invalid_argument("fit: needs training data, a positive batch size and evaluate_every");
    const std::unique_ptr<Optimizer> optimizer = make_optimizer(options);
    const auto stop_requested = [&] { return hooks.stop_requested && hooks.stop_requested(); };

    const std::size_t n = train.size(), batch = std::min(options.batch, n);
    std::vector<std::size_t> order(n);  // positions in `train`, shuffled every epoch
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    const auto sample = [&](std::size_t k) { return train.at(order[k]); };
    Rng rng(options.seed);
    BatchSlot full_slot, short_slot;   // batches of `batch` samples, and the last shorter one
    BatchSlot evaluation_slots[3];     // train, validation, test: each part keeps its shapes
    // Full batch: the training samples in their own order, gathered once.
    if (batch == n) full_slot.gather(train, sample, 0, n);
    FitResult result;
    result.history.reserve(std::min<std::size_t>(options.epochs, 100000));
    double best_loss = std::numeric_limits<double>::infinity();
    std::vector<Matrix> best_parameters;  // same shapes as the model's: copies reuse the buffers
    std::size_t epochs_without_improvement = 0, last_evaluated = 0;

    const auto start = std::chrono::steady_clock::now();
    for (std::size_t epoch = 1; epoch <= options.epochs && !result.interrupted; ++epoch) {
        if (batch < n) shuffle(order, rng);
        for (std::size_t first = 0; first < n; first += batch) {
            const std::size_t count = std::min(batch, n - first);
            BatchSlot& slot = count == batch ? full_slot : short_slot;
            if (batch < n) slot.gather(train, sample, first, count);
            {
                const BatchSlot::Recording on_tape(slot, model);
                slot.tape.backward(task_loss(task, on_tape.Z, on_tape.Y));
            }
            optimizer->step(model.parameters(), model.gradients());
            ++result.steps;
            if ((result.interrupted = stop_requested())) break;
        }
        if (result.interrupted) break;
        result.epochs = epoch;
        if (epoch % options.evaluate_every != 0 && epoch != options.epochs) continue;

        EpochRecord record;
        record.epoch = epoch;
        std::tie(record.train_loss, record.train_metric) = loss_and_metric(model, task, evaluation_slots[0], train);
        record.validation_loss = loss_and_metric(model, task, evaluation_slots[1], validation).first;
        std::tie(record.test_loss, record.test_metric) = loss_and_metric(model, task, evaluation_slots[2], test);
        if (!std::isfinite(record.train_loss))
            throw NumericalError("training diverged in epoch " + std::to_string(epoch) +
                                 " (the loss is not finite); try a smaller learning rate");
        result.history.push_back(record);
        if (hooks.epoch_done) hooks.epoch_done(record);

        const std::size_t epochs_since_evaluation = epoch - last_evaluated;
        last_evaluated = epoch;
        if (!early_stopping) {
            result.best_epoch = epoch;  // without early stopping the last epoch's parameters stay
            continue;
        }
        if (record.validation_loss < best_loss) {
            best_loss = record.validation_loss;
            result.best_epoch = epoch;
            const std::vector<Matrix*>& parameters = model.parameters();
            best_parameters.resize(parameters.size());
            for (std::size_t i = 0; i < parameters.size(); ++i) best_parameters[i] = *parameters[i];
            epochs_without_improvement = 0;
        } else if ((epochs_without_improvement += epochs_since_evaluation) >= options.patience) {
            result.stopped_early = epoch < options.epochs;
            break;
        }
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    if (!best_parameters.empty()) {  // early stopping: back to the epoch of the lowest validation loss
        const std::vector<Matrix*>& parameters = model.parameters();
        for (std::size_t i = 0; i < parameters.size(); ++i) *parameters[i] = best_parameters[i];
    }
    return result;
}

/// The model's loss and metrics in the target's units on the samples of `part` (part.Y the raw
/// targets), a chunk at a time; part.X is standardized already unless `raw`.
Evaluation evaluate_columns(const Model& model, const Columns& part, bool raw) {
    Evaluator evaluator(model);
    BatchSlot slot;
    for_each_chunk(part, slot, [&](const Matrix& X, const Matrix& y, std::size_t) {
        raw ? evaluator.add(X, y) : evaluator.add_standardized(X, y);
    });
    return evaluator.result();
}

}  // namespace

Evaluator::Evaluator(const Model& model) : model_(model), mlp_(model.mlp) {}

void Evaluator::add(const Matrix& X, const Matrix& y) { add_standardized(model_.features.apply(X), y); }

void Evaluator::add_standardized(const Matrix& X, const Matrix& y) {
    const std::size_t count = y.size();
    tape_.clear();
    const Var Z = mlp_.logits(tape_.constant(X, "X"));
    loss_ += task_loss(model_.target.task, Z, tape_.constant(model_.target.encode(y), "Y")).value()(0, 0) *
             static_cast<double>(count);
    const Matrix predicted = model_.predict_standardized(X).values;
    for (std::size_t j = 0; j < count; ++j) {
        squared_error_ += (predicted(0, j) - y(0, j)) * (predicted(0, j) - y(0, j));
        correct_ += predicted(0, j) == y(0, j);
        const double step = y(0, j) - mean_;
        mean_ += step / static_cast<double>(++samples_);
        deviations_ += step * (y(0, j) - mean_);
    }
}

Evaluation Evaluator::result() const {
    Evaluation e{not_a_number, not_a_number, not_a_number, not_a_number};
    const auto n = static_cast<double>(samples_);
    e.loss = loss_ / n;
    if (model_.target.task == Task::regression) {
        e.r2 = 1.0 - squared_error_ / deviations_;  // a constant target gives -inf or nan, as r2_score
        e.rmse = std::sqrt(squared_error_ / n);
    } else {
        e.accuracy = static_cast<double>(correct_) / n;
    }
    return e;
}

FitResult fit(MLP& model, Task task, const FitData& data, const FitOptions& options, const FitHooks& hooks) {
    return fit_columns(model, task, all_columns(data.train), all_columns(data.validation), all_columns(data.test),
                       options, hooks);
}

Evaluation evaluate(const Model& model, const Matrix& X, const Matrix& y) {
    return evaluate_columns(model, {&X, &y, nullptr}, true);
}

TrainResult train(Matrix X, const Matrix& y, std::vector<std::string> feature_names, std::string label,
                  const TrainOptions& options, const FitHooks& hooks) {
    const TaskChoice choice = choose_task(y, options.task);
    TargetCoding coding = make_target_coding(choice.task, y);
    Split split = split_samples(coding, y, options.test_fraction, options.validation_fraction, options.seed);
    if (coding.task == Task::regression) coding.scale = Standardization::of(y, split.train);
    // The rows the model learns from (fitted or validated on), by fingerprint before X is
    // standardized: predict tells which of its rows they are.
    std::vector<std::uint64_t> seen;
    for (const std::vector<std::size_t>* part : {&split.train, &split.validation})
        for (const std::size_t j : *part) seen.push_back(row_fingerprint(X, j));
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    // Standardized in place with the training rows' statistics: the parts are index lists into X.
    const Standardization features = Standardization::of(X, split.train);
    features.apply_in_place(X);
    const Matrix Y_coded = coding.encode(y);
    const auto part = [&](const std::vector<std::size_t>& index) {
        return index.empty() ? Columns{} : Columns{&X, &Y_coded, &index};
    };

    std::vector<std::size_t> sizes{X.shape(0)};
    sizes.insert(sizes.end(), options.hidden.begin(), options.hidden.end());
    sizes.push_back(coding.outputs());
    MLP mlp(sizes, options.activation, coding.task == Task::binary ? Activation::sigmoid : Activation::identity);
    mlp.init(options.seed);
    FitResult fitted = fit_columns(mlp, coding.task, part(split.train), part(split.validation), part(split.test),
                                   options, hooks);

    Model model{std::move(mlp), std::move(coding), features, std::move(feature_names), std::move(label),
                choice.reason, std::move(seen)};
    const Evaluation train_evaluation = evaluate_columns(model, {&X, &y, &split.train}, false);
    const Evaluation test_evaluation = evaluate_columns(model, {&X, &y, &split.test}, false);
    return {std::move(model), std::move(split), std::move(fitted), train_evaluation, test_evaluation};
}

}  // namespace matgrad::nn
