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

/// Loss and metric of `model` on a part, on `tape`; NaN for an empty part.
std::pair<double, double> loss_and_metric(MLP& model, Task task, Tape& tape, const Part& part) {
    if (part.empty()) return {not_a_number, not_a_number};
    tape.clear();
    const Var Z = model.logits(tape.constant(part.X, "X"));
    const Var J = task_loss(task, Z, tape.constant(part.Y, "Y"));
    return {J.value()(0, 0), task_metric(task, Z.value(), part.Y)};
}

std::unique_ptr<Optimizer> make_optimizer(const FitOptions& o) {
    if (o.optimizer == "sgd") return std::make_unique<SGD>(o.learning_rate, o.weight_decay);
    if (o.optimizer == "adam") return std::make_unique<Adam>(o.learning_rate, 0.9, 0.999, 1e-8, o.weight_decay);
    throw std::invalid_argument("fit: unknown optimizer '" + o.optimizer + "' (use adam or sgd)");
}

Part make_part(const Matrix& X, const Matrix& Y, const std::vector<std::size_t>& columns) {
    if (columns.empty()) return {};
    return {take_columns(X, columns), take_columns(Y, columns)};
}

/// Gives `m` the shape rows x cols, keeping its buffer when the size is unchanged.
void reshape(Matrix& m, std::size_t rows, std::size_t cols) {
    if (m.shape(0) != rows || m.shape(1) != cols) m.resize({rows, cols});
}

/// to = the columns `order` of `from`, in that order (one pass over each row of `from`).
void gather_columns(const Matrix& from, const std::vector<std::size_t>& order, Matrix& to) {
    const std::size_t rows = from.shape(0), cols = from.shape(1), n = order.size();
    reshape(to, rows, n);
    for (std::size_t r = 0; r < rows; ++r) {
        const double* source = from.data() + r * cols;
        double* target = to.data() + r * n;
        for (std::size_t k = 0; k < n; ++k) target[k] = source[order[k]];
    }
}

/// to = the columns first .. first + count - 1 of `from` (contiguous in each row).
void copy_columns(const Matrix& from, std::size_t first, std::size_t count, Matrix& to) {
    const std::size_t rows = from.shape(0), cols = from.shape(1);
    reshape(to, rows, count);
    for (std::size_t r = 0; r < rows; ++r)
        std::copy_n(from.data() + r * cols + first, count, to.data() + r * count);
}

/// The tape and inputs of the mini-batches of one size. An epoch has at most two sizes (the batch
/// and the remainder n % batch); a slot for each keeps every node's buffer at its shape, so a
/// steady-state epoch allocates nothing.
struct BatchSlot {
    Tape tape;
    Part part;
};

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
    if (task == Task::regression) return coding;
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

FitResult fit(MLP& model, Task task, const FitData& data, const FitOptions& options, const FitHooks& hooks) {
    const bool early_stopping = options.patience > 0;
    if (early_stopping && data.validation.empty())
        throw std::invalid_argument("fit: early stopping (patience > 0) needs validation data");
    if (data.train.empty() || options.batch == 0 || options.evaluate_every == 0)
        throw std::invalid_argument("fit: needs training data, a positive batch size and evaluate_every");
    const std::unique_ptr<Optimizer> optimizer = make_optimizer(options);
    const auto stop_requested = [&] { return hooks.stop_requested && hooks.stop_requested(); };

    const std::size_t n = data.train.X.shape(1), batch = std::min(options.batch, n);
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    Rng rng(options.seed);
    Part shuffled;                     // the training part in this epoch's order
    BatchSlot full_slot, short_slot;   // batches of `batch` samples, and the last shorter one
    Tape evaluation_tapes[3];          // train, validation, test: each part keeps its shapes
    FitResult result;
    result.history.reserve(std::min<std::size_t>(options.epochs, 100000));
    double best_loss = std::numeric_limits<double>::infinity();
    std::vector<Matrix> best_parameters;  // same shapes as the model's: copies reuse the buffers
    std::size_t epochs_without_improvement = 0, last_evaluated = 0;

    const auto start = std::chrono::steady_clock::now();
    for (std::size_t epoch = 1; epoch <= options.epochs && !result.interrupted; ++epoch) {
        if (batch < n) {
            shuffle(order, rng);
            gather_columns(data.train.X, order, shuffled.X);
            gather_columns(data.train.Y, order, shuffled.Y);
        }
        for (std::size_t first = 0; first < n; first += batch) {
            const std::size_t count = std::min(batch, n - first);
            BatchSlot& slot = count == batch ? full_slot : short_slot;
            if (batch < n) {
                copy_columns(shuffled.X, first, count, slot.part.X);
                copy_columns(shuffled.Y, first, count, slot.part.Y);
            }
            const Part& part = batch < n ? slot.part : data.train;
            slot.tape.clear();
            const Var J = task_loss(task, model.logits(slot.tape.constant(part.X, "X")), slot.tape.constant(part.Y, "Y"));
            slot.tape.backward(J);
            optimizer->step(model.parameters(), model.gradients());
            ++result.steps;
            if ((result.interrupted = stop_requested())) break;
        }
        if (result.interrupted) break;
        if (epoch % options.evaluate_every != 0 && epoch != options.epochs) continue;

        EpochRecord record;
        record.epoch = epoch;
        std::tie(record.train_loss, record.train_metric) = loss_and_metric(model, task, evaluation_tapes[0], data.train);
        record.validation_loss = loss_and_metric(model, task, evaluation_tapes[1], data.validation).first;
        std::tie(record.test_loss, record.test_metric) = loss_and_metric(model, task, evaluation_tapes[2], data.test);
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

Evaluation evaluate(const Model& model, const Matrix& X, const Matrix& y) {
    Evaluation e{not_a_number, not_a_number, not_a_number, not_a_number};
    MLP mlp = model.mlp;  // logits() records the parameters' Vars in the model
    Tape tape;
    const Var Z = mlp.logits(tape.constant(model.features.apply(X), "X"));
    e.loss = task_loss(model.target.task, Z, tape.constant(model.target.encode(y), "Y")).value()(0, 0);
    const Matrix predicted = model.predict(X).values;
    if (model.target.task == Task::regression) {
        e.r2 = r2_score(predicted, y);
        e.rmse = std::sqrt(xt::mean(xt::square(predicted - y))());
    } else {
        e.accuracy = static_cast<double>(xt::sum(xt::equal(predicted, y))()) / static_cast<double>(y.size());
    }
    return e;
}

TrainResult train(const Matrix& X, const Matrix& y, std::vector<std::string> feature_names, std::string label,
                  const TrainOptions& options, const FitHooks& hooks) {
    const TaskChoice choice = choose_task(y, options.task);
    TargetCoding coding = make_target_coding(choice.task, y);
    Split split = split_samples(coding, y, options.test_fraction, options.validation_fraction, options.seed);
    const Matrix y_train = take_columns(y, split.train);
    if (coding.task == Task::regression) coding.scale = Standardization::of(y_train);
    const Standardization features = Standardization::of(take_columns(X, split.train));

    const Matrix X_standard = features.apply(X), Y_coded = coding.encode(y);
    const FitData data{make_part(X_standard, Y_coded, split.train), make_part(X_standard, Y_coded, split.validation),
                       make_part(X_standard, Y_coded, split.test)};

    std::vector<std::size_t> sizes{X.shape(0)};
    sizes.insert(sizes.end(), options.hidden.begin(), options.hidden.end());
    sizes.push_back(coding.outputs());
    MLP mlp(sizes, options.activation, coding.task == Task::binary ? Activation::sigmoid : Activation::identity);
    mlp.init(options.seed);
    FitResult fitted = fit(mlp, coding.task, data, options, hooks);

    Model model{std::move(mlp), std::move(coding), features, std::move(feature_names), std::move(label), choice.reason};
    const Evaluation train_evaluation = evaluate(model, take_columns(X, split.train), y_train);
    const Evaluation test_evaluation = evaluate(model, take_columns(X, split.test), take_columns(y, split.test));
    return {std::move(model), std::move(split), std::move(fitted), train_evaluation, test_evaluation};
}

}  // namespace matgrad::nn
