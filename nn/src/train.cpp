// The training pipeline of <nn/train.hpp>: task choice, splits, the loop with early stopping.
#include "label_text.hpp"

#include <nn/init.hpp>
#include <nn/losses.hpp>
#include <nn/optim.hpp>
#include <nn/csv_cache.hpp>
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

void shuffle(std::size_t* items, std::size_t count, Rng& rng) {  // Fisher-Yates with the portable Rng
    for (std::size_t i = count; i-- > 1;)
        std::swap(items[i], items[static_cast<std::size_t>(rng.uniform() * static_cast<double>(i + 1))]);
}

void shuffle(std::vector<std::size_t>& items, Rng& rng) { shuffle(items.data(), items.size(), rng); }

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

/// The feature columns of a CSV's cache, read a block of rows at a time into one buffer (pread).
/// Every pass of a streamed training goes through its samples block by block -- a batch visits
/// its blocks one after another, evaluation and statistics go in row order -- so the buffer is
/// all it holds of the file, and each block is read once per pass.
class CacheBlocks {
public:
    CacheBlocks(const io::CacheFile& file, std::size_t label_column) : file_(file) {
        for (std::size_t c = 0, f = 0; c < file.header().size(); ++c)
            targets_.push_back(c == label_column ? io::ColumnTarget{} : io::ColumnTarget{&buffer_, f++});
    }
    std::size_t features() const { return file_.header().size() - 1; }
    std::size_t block_rows() const { return block_rows_; }
    /// Allocates the buffer for blocks of `block_rows` rows.
    void set_block_rows(std::size_t block_rows) {
        block_rows_ = block_rows;
        buffer_ = Matrix({features(), block_rows});
        rows_.clear();
        for (std::size_t f = 0; f < features(); ++f) rows_.push_back(buffer_.data() + f * block_rows);
        loaded_ = none;
    }
    /// Reads block b into the buffer unless it is there; returns its first row.
    std::size_t load(std::size_t b) {
        const std::size_t first = b * block_rows_;
        if (b != loaded_) {
            loaded_ = none;  // a failed read leaves no block
            file_.read_rows(first, std::min(first + block_rows_, file_.rows()), targets_);
            loaded_ = b;
        }
        return first;
    }
    /// rows()[f][j - first]: feature f of sample j of the block in the buffer, which starts at row `first`.
    const std::vector<const double*>& rows() const { return rows_; }

private:
    static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
    const io::CacheFile& file_;
    std::size_t block_rows_ = 0, loaded_ = none;
    Matrix buffer_;  // features x block_rows
    std::vector<io::ColumnTarget> targets_;  // the file's columns: the features into buffer_'s rows
    std::vector<const double*> rows_;
};

/// The features of all samples: in memory as rows of values, one pointer per feature (rows[f][j]:
/// feature f of sample j, a Matrix's rows), or in a cache file read a block at a time, in the
/// file's units (`raw`) and standardized as they are gathered.
struct FeatureRows {
    std::vector<const double*> rows;  ///< in memory (empty for a cache file)
    std::size_t samples = 0;
    const Matrix* whole = nullptr;         ///< the standardized Matrix the rows are, if they are one
    const Standardization* raw = nullptr;  ///< set: standardize with it when gathering
    CacheBlocks* blocks = nullptr;         ///< set: the features are in a cache file

    std::size_t features() const { return blocks != nullptr ? blocks->features() : rows.size(); }
};

FeatureRows rows_of(const Matrix& X) {
    FeatureRows rows{{}, X.shape(1), &X, nullptr, nullptr};
    for (std::size_t f = 0; f < X.shape(0); ++f) rows.rows.push_back(X.data() + f * X.shape(1));
    return rows;
}

/// Calls piece(rows, positions) for the samples `index` of X, which must be ascending for a cache
/// file: rows[f][positions[i]] is feature f of sample index[i] -- in memory all at once, from a
/// cache file a block at a time (positions counted from the block's first row).
void for_each_block(const FeatureRows& X, const std::vector<std::size_t>& index, const Standardization::Piece& piece) {
    if (X.blocks == nullptr) {
        piece(X.rows, index);
        return;
    }
    std::vector<std::size_t> positions;
    for (std::size_t k = 0; k < index.size();) {
        const std::size_t block = index[k] / X.blocks->block_rows(), first = X.blocks->load(block);
        positions.clear();
        for (; k < index.size() && index[k] / X.blocks->block_rows() == block; ++k) positions.push_back(index[k] - first);
        piece(X.blocks->rows(), positions);
    }
}

/// Samples as columns of matrices shared with other parts: the data is never copied per part.
struct Columns {
    const FeatureRows* X = nullptr;  ///< features of all samples
    const Matrix* Y = nullptr;  ///< targets x all samples (coded, or raw for evaluate)
    /// This part's samples (ascending whenever X->blocks is set); null: every sample.
    const std::vector<std::size_t>* index = nullptr;

    std::size_t size() const { return X == nullptr ? 0 : index ? index->size() : X->samples; }
    std::size_t at(std::size_t k) const { return index ? (*index)[k] : k; }
};

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

/// The same for features, standardized on the way if they are raw -- with the arithmetic of
/// Standardization::apply_in_place, so a streamed batch equals the in-memory one bit for bit. From
/// a cache file a run of samples of one block at a time (order must visit the blocks one after
/// another, as BlockOrder and ascending parts do, or blocks are read again).
template <class Order>
void gather_features(const FeatureRows& from, const Order& order, std::size_t first, std::size_t count, Matrix& to) {
    reshape(to, from.features(), count);
    for (std::size_t begin = 0, end = 0; begin < count; begin = end) {
        const std::vector<const double*>* rows = &from.rows;
        std::size_t base = 0;  // the sample at rows[f][0]
        end = count;
        if (from.blocks != nullptr) {
            const std::size_t block = order(first + begin) / from.blocks->block_rows();
            base = from.blocks->load(block);
            rows = &from.blocks->rows();
            for (end = begin + 1; end < count && order(first + end) / from.blocks->block_rows() == block;) ++end;
        }
        for (std::size_t r = 0; r < rows->size(); ++r) {
            const double* source = (*rows)[r];
            double* target = to.data() + r * count;
            if (from.raw == nullptr) {
                for (std::size_t k = begin; k < end; ++k) target[k] = source[order(first + k) - base];
            } else {
                const double mean = from.raw->mean(r, 0), std = from.raw->std(r, 0);
                for (std::size_t k = begin; k < end; ++k) target[k] = (source[order(first + k) - base] - mean) / std;
            }
        }
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
    bool shared = false;            ///< evaluation: the slot serves several parts, so it keeps none

    /// The samples order(first) .. order(first + count - 1) of `from` into this slot's part.
    template <class Order>
    const Part& gather(const Columns& from, const Order& order, std::size_t first, std::size_t count) {
        gather_features(*from.X, order, first, count, part.X);
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

/// The samples of the evaluation chunk starting at sample `first` of `part`: evaluation_chunk, or
/// fewer at the part's end.
std::size_t chunk_size(const Columns& part, std::size_t first) { return std::min(evaluation_chunk, part.size() - first); }

/// Calls chunk(X, Y, count) for the samples of `part` a chunk at a time, gathered into `slot`
/// (a part that is one whole matrix and a single chunk is passed as it is, without a copy). From a
/// cache file this is one streaming pass: the samples are ascending.
template <class Chunk>
void for_each_chunk(const Columns& part, BatchSlot& slot, Chunk&& chunk) {
    const std::size_t n = part.size();
    if (part.index == nullptr && n <= evaluation_chunk && part.X->whole != nullptr) {
        chunk(*part.X->whole, *part.Y, n);
        return;
    }
    for (std::size_t first = 0, count = 0; first < n; first += count) {
        count = chunk_size(part, first);
        const Part& gathered = slot.gather(part, [&](std::size_t k) { return part.at(k); }, first, count);
        chunk(gathered.X, gathered.Y, count);
    }
}

/// The epoch order of FitOptions::block over the training samples (their rows ascending): the
/// blocks of `block_rows` consecutive rows in a shuffled order, each block's samples shuffled. It
/// depends only on the rows, the block size and the Rng, not on where the samples are stored.
class BlockOrder {
public:
    BlockOrder(const Columns& train, std::size_t block_rows) : block_rows_(block_rows) {
        if (block_rows == 0) return;
        for (std::size_t k = 0; k < train.size(); ++k) {
            if (k > 0 && train.at(k) <= train.at(k - 1))
                throw std::logic_error("fit: the block order needs the training rows ascending");
            const std::size_t block = train.at(k) / block_rows;
            if (k == 0 || block != blocks_.back()) {
                blocks_.push_back(block);
                starts_.push_back(k);
            }
        }
        starts_.push_back(train.size());
        visits_.resize(blocks_.size());
    }
    bool active() const { return block_rows_ > 0; }

    /// The next epoch: order[k] is the position in `train` of the k-th sample to visit.
    void shuffle(std::vector<std::size_t>& order, Rng& rng) {
        for (std::size_t b = 0; b < visits_.size(); ++b) visits_[b] = b;
        nn::shuffle(visits_, rng);
        std::size_t at = 0;
        for (std::size_t v = 0; v < visits_.size(); ++v) {
            const std::size_t begin = at;
            for (std::size_t k = starts_[visits_[v]]; k < starts_[visits_[v] + 1]; ++k) order[at++] = k;
            nn::shuffle(order.data() + begin, at - begin, rng);
        }
    }

private:
    std::size_t block_rows_;
    std::vector<std::size_t> blocks_;  // the blocks holding training samples
    std::vector<std::size_t> starts_;  // where each one's samples start in `train` (and the end)
    std::vector<std::size_t> visits_;  // this epoch's order of the blocks
};

/// Loss and metric of `model` on a part, a chunk at a time on `slot`; NaN for an empty part.
/// Losses and accuracies are means over the samples, so chunks combine by their sizes; R² comes
/// from the squared error the MSE loss already sums. The parts do not change during a fit, so a
/// part of one chunk is gathered into its slot once and then evaluated without any copy.
std::pair<double, double> loss_and_metric(MLP& model, Task task, BatchSlot& slot, const Columns& part) {
    const std::size_t n = part.size();
    if (n == 0) return {not_a_number, not_a_number};
    double loss = 0, metric = 0;
    // The chunks of for_each_chunk: from a cache file, a streaming pass.
    for (std::size_t first = 0, count = 0; first < n; first += count) {
        count = chunk_size(part, first);
        if (!slot.holds_whole_part) slot.gather(part, [&](std::size_t k) { return part.at(k); }, first, count);
        slot.holds_whole_part = count == n && !slot.shared;
        {
            const BatchSlot::Recording on_tape(slot, model);
            const double J = task_loss(task, on_tape.Z, on_tape.Y).value()(0, 0);
            const double share = static_cast<double>(count) / static_cast<double>(n);
            loss += J * share;
            if (task != Task::regression) metric += task_metric(task, on_tape.Z.value(), on_tape.Y.value()) * share;
        }
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
    BlockOrder blocks(train, options.block);
    BatchSlot full_slot, short_slot;   // batches of `batch` samples, and the last shorter one
    // Train, validation, test: each part keeps its shapes -- except with blocks (a streamed
    // training), where one slot re-shaped per chunk holds a third of the memory.
    BatchSlot evaluation_slots[3];
    BatchSlot* const evaluation[3] = {&evaluation_slots[0], &evaluation_slots[options.block > 0 ? 0 : 1],
                                      &evaluation_slots[options.block > 0 ? 0 : 2]};
    evaluation_slots[0].shared = options.block > 0;
    // Full batch: the training samples in their own order, gathered once.
    if (batch == n) full_slot.gather(train, sample, 0, n);
    FitResult result;
    result.history.reserve(std::min<std::size_t>(options.epochs, 100000));
    double best_loss = std::numeric_limits<double>::infinity();
    std::vector<Matrix> best_parameters;  // same shapes as the model's: copies reuse the buffers
    std::size_t epochs_without_improvement = 0, last_evaluated = 0;

    const auto start = std::chrono::steady_clock::now();
    for (std::size_t epoch = 1; epoch <= options.epochs && !result.interrupted; ++epoch) {
        if (batch < n) blocks.active() ? blocks.shuffle(order, rng) : shuffle(order, rng);
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
        std::tie(record.train_loss, record.train_metric) = loss_and_metric(model, task, *evaluation[0], train);
        record.validation_loss = loss_and_metric(model, task, *evaluation[1], validation).first;
        std::tie(record.test_loss, record.test_metric) = loss_and_metric(model, task, *evaluation[2], test);
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
    const FeatureRows train = rows_of(data.train.X), validation = rows_of(data.validation.X),
                      test = rows_of(data.test.X);
    const auto all_columns = [](const FeatureRows& X, const Part& part) {
        return part.empty() ? Columns{} : Columns{&X, &part.Y, nullptr};
    };
    return fit_columns(model, task, all_columns(train, data.train), all_columns(validation, data.validation),
                       all_columns(test, data.test), options, hooks);
}

Evaluation evaluate(const Model& model, const Matrix& X, const Matrix& y) {
    const FeatureRows rows = rows_of(X);
    return evaluate_columns(model, {&rows, &y, nullptr}, true);
}

namespace {

/// train() on features stored anywhere: `standardize_in_place` set, X is a Matrix it standardizes
/// in place; unset, X is raw (a cache file) and standardized as batches are gathered. With
/// options.block == 0, `block_rows` (if set) gives the block size for the task's outputs.
TrainResult train_on(FeatureRows& X, const Matrix& y, std::vector<std::string> feature_names, std::string label,
                     TrainOptions options, const FitHooks& hooks,
                     const std::function<void(const Standardization&)>& standardize_in_place,
                     const std::function<std::size_t(std::size_t)>& block_rows) {
    const TaskChoice choice = choose_task(y, options.task);
    TargetCoding coding = make_target_coding(choice.task, y);
    if (options.block == 0 && block_rows) options.block = block_rows(coding.outputs());
    if (X.blocks != nullptr) X.blocks->set_block_rows(options.block);
    Split split = split_samples(coding, y, options.test_fraction, options.validation_fraction, options.seed);
    if (options.block > 0)  // blocks are runs of rows: each part in row order, read in streaming passes
        for (std::vector<std::size_t>* rows : {&split.train, &split.validation, &split.test})
            std::sort(rows->begin(), rows->end());
    if (coding.task == Task::regression) coding.scale = Standardization::of(y, split.train);
    // The rows the model learns from (fitted or validated on), by fingerprint before X is
    // standardized: predict tells which of its rows they are (plan_streaming counts their 8 bytes
    // a row).
    std::vector<std::uint64_t> seen;
    seen.reserve(split.train.size() + split.validation.size());
    for (const std::vector<std::size_t>* part : {&split.train, &split.validation})
        for_each_block(X, *part, [&](const std::vector<const double*>& rows, const std::vector<std::size_t>& positions) {
            for (const std::size_t p : positions) seen.push_back(row_fingerprint(rows, p));
        });
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    // The training rows' statistics (from a cache file: two passes over its blocks).
    const Standardization features = Standardization::of(X.features(), [&](const Standardization::Piece& add) {
        for_each_block(X, split.train, add);
    });
    if (standardize_in_place)
        standardize_in_place(features);  // the parts are index lists into X
    else
        X.raw = &features;
    const Matrix Y_coded = coding.encode(y);
    const auto part = [&](const std::vector<std::size_t>& index) {
        return index.empty() ? Columns{} : Columns{&X, &Y_coded, &index};
    };

    std::vector<std::size_t> sizes{X.features()};
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
    return {std::move(model), std::move(split), std::move(fitted), train_evaluation, test_evaluation, options.block};
}

}  // namespace

TrainResult train(Matrix X, const Matrix& y, std::vector<std::string> feature_names, std::string label,
                  const TrainOptions& options, const FitHooks& hooks) {
    FeatureRows rows = rows_of(X);
    return train_on(rows, y, std::move(feature_names), std::move(label), options, hooks,
                    [&](const Standardization& features) { features.apply_in_place(X); }, {});
}

bool fits_in_memory(std::size_t budget, std::size_t rows, std::size_t columns) {
    return static_cast<double>(rows) * static_cast<double>(columns) * sizeof(double) * 2 <= static_cast<double>(budget);
}

StreamingPlan plan_streaming(std::size_t budget, std::size_t rows, std::size_t features, std::size_t outputs,
                             const TrainOptions& options) {
    std::size_t hidden = 0;
    for (const std::size_t h : options.hidden) hidden += h;
    // Per sample in an evaluation chunk: its features and targets gathered, and the tape's values
    // of every layer; a training batch has gradients too. One evaluation slot (fit_columns with
    // blocks) and the final Evaluator's (its tape and predictions) are never alive together.
    const double per_sample = 8.0 * static_cast<double>(features + 4 * outputs + 3 * hidden);
    const double batch = static_cast<double>(std::min(options.batch, rows));
    const double fixed = 8.0 * static_cast<double>(5 + outputs) * static_cast<double>(rows)  // labels, lists, seen rows
                         + per_sample * (4 * batch + 2 * static_cast<double>(evaluation_chunk))
                         + 4.0 * 1048576;  // headroom: memory the allocator keeps after a free (measured 1-2 MiB)
    const double block_bytes = 8.0 * static_cast<double>(features);  // per block row: the block buffer
    constexpr std::size_t min_block = 64;  // below, the reads (one per feature and block) cost more than the copying
    const double needed = fixed + block_bytes * min_block;
    const auto megabytes = [](double bytes) {  // rounded up
        if (bytes < 1024) return std::to_string(static_cast<long long>(bytes)) + " bytes";
        return bytes < 1048576 ? std::to_string(static_cast<long long>(std::ceil(bytes / 1024))) + " KiB"
                               : std::to_string(static_cast<long long>(std::ceil(bytes / 1048576))) + " MiB";
    };
    if (static_cast<double>(budget) < needed)
        throw std::invalid_argument("a memory budget of " + megabytes(static_cast<double>(budget)) + " is too small to train on " +
                                    std::to_string(rows) + " rows of " + std::to_string(features) +
                                    " features (labels, index lists and batch buffers take " + megabytes(fixed) +
                                    "); give at least " + megabytes(needed));
    StreamingPlan plan;
    plan.fixed_bytes = static_cast<std::size_t>(fixed);
    plan.block_rows = std::min(rows, static_cast<std::size_t>((static_cast<double>(budget) - fixed) / block_bytes));
    return plan;
}

namespace {

Matrix label_values(const io::CacheFile& data, std::size_t label_column) {
    Matrix y({std::size_t{1}, data.rows()});
    std::vector<io::ColumnTarget> targets(data.header().size());
    targets[label_column] = {&y, 0};
    data.read_rows(0, data.rows(), targets);
    return y;
}

}  // namespace

TaskChoice choose_task(const io::CacheFile& data, std::size_t label_column, std::optional<Task> task) {
    return choose_task(label_values(data, label_column), task);
}

TrainResult train(const io::CacheFile& data, std::size_t label_column, const TrainOptions& options,
                  std::size_t memory_budget, const FitHooks& hooks) {
    if (label_column >= data.header().size() || data.header().size() < 2)
        throw std::invalid_argument("train: label column " + std::to_string(label_column) + " of a cache of " +
                                    std::to_string(data.header().size()) + " columns leaves no features");
    const std::size_t n = data.rows();
    const Matrix y = label_values(data, label_column);
    CacheBlocks blocks(data, label_column);
    FeatureRows X{{}, n, nullptr, nullptr, &blocks};
    std::vector<std::string> feature_names;
    for (std::size_t c = 0; c < data.header().size(); ++c)
        if (c != label_column) feature_names.push_back(data.header()[c]);
    return train_on(X, y, std::move(feature_names), data.header()[label_column], options, hooks, {},
                    [&](std::size_t outputs) {
                        return plan_streaming(memory_budget, n, X.features(), outputs, options).block_rows;
                    });
}

}  // namespace matgrad::nn
