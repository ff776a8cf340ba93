// Tasks, target coding, standardization, prediction, and the model directory (see <nn/model.hpp>).
#include "label_text.hpp"

#include <nn/io.hpp>
#include <nn/model.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace matgrad::nn {

namespace {

namespace fs = std::filesystem;
using io::InputError;

constexpr const char* model_format = "matgrad-mlp";
constexpr int model_version = 2;  // 2: task, classes, target scale; 1: binary 0/1 only

/// Reads `dir/name` and checks it is rows x cols.
Matrix read_array(const fs::path& dir, const std::string& name, std::size_t rows, std::size_t cols) {
    const std::string path = (dir / name).string();
    Matrix m = io::read_npy(path);
    if (m.shape(0) != rows || m.shape(1) != cols)
        throw InputError(path + ": is " + shape_string(m) + " but model.json's sizes need " +
                         std::to_string(rows) + "x" + std::to_string(cols));
    return m;
}

/// Reads mean.npy and std.npy (rows x 1) of a model directory; every std must be positive.
Standardization read_standardization(const fs::path& root, std::size_t rows) {
    Standardization s{read_array(root, "mean.npy", rows, 1), read_array(root, "std.npy", rows, 1)};
    for (std::size_t i = 0; i < rows; ++i)
        if (!(s.std(i, 0) > 0))
            throw InputError((root / "std.npy").string() + ": element (" + std::to_string(i) +
                             ",0) is not positive");
    return s;
}

/// seen_rows.npy of a model directory (absent: none known): 1 x k integers below 2^52, increasing.
std::vector<std::uint64_t> read_seen_rows(const fs::path& root) {
    const fs::path path = root / "seen_rows.npy";
    std::error_code error;
    if (!fs::exists(path, error)) return {};
    const Matrix m = io::read_npy(path.string());
    if (m.shape(0) != 1) throw InputError(path.string() + ": is " + shape_string(m) + " but must be one row");
    std::vector<std::uint64_t> seen(m.size());
    for (std::size_t j = 0; j < m.size(); ++j) {
        const double v = m(0, j);
        if (!(v >= 0.0 && v < 0x1p52 && v == std::floor(v)) || (j > 0 && !(v > m(0, j - 1))))
            throw InputError(path.string() + ": element (0," + std::to_string(j) +
                             ") is not a row fingerprint (increasing integers below 2^52)");
        seen[j] = static_cast<std::uint64_t>(v);
    }
    return seen;
}

/// splitmix64's finalizer: every bit of x affects every bit of the result.
std::uint64_t mix64(std::uint64_t x) {
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
    return x ^ (x >> 31);
}

}  // namespace

const char* task_name(Task task) {
    switch (task) {
        case Task::binary: return "binary";
        case Task::multiclass: return "multiclass";
        case Task::regression: return "regression";
    }
    return "?";
}

Task parse_task(const std::string& name) {
    for (const Task t : {Task::binary, Task::multiclass, Task::regression})
        if (name == task_name(t)) return t;
    throw std::invalid_argument("unknown task '" + name + "' (use binary, multiclass or regression)");
}

namespace {

/// The mean and std of each of `d` features over samples that `pass` gives a piece at a time:
/// pass(add) calls add(rows, count, at) for each piece, whose i-th sample has feature f at
/// rows[f][at(i)]. Two passes (the sums, then the squared deviations from the means), each adding
/// a feature's values one after another in the samples' order, so the pieces do not change a bit.
template <class Pass>
Standardization standardization_of(std::size_t d, Pass&& pass) {
    std::vector<double> sums(d, 0.0), squares(d, 0.0), means(d);
    std::size_t n = 0;
    pass([&](const std::vector<const double*>& rows, std::size_t count, const auto& at) {
        for (std::size_t f = 0; f < d; ++f) {
            double sum = sums[f];
            for (std::size_t i = 0; i < count; ++i) sum += rows[f][at(i)];
            sums[f] = sum;
        }
        n += count;
    });
    for (std::size_t f = 0; f < d; ++f) means[f] = sums[f] / static_cast<double>(n);
    pass([&](const std::vector<const double*>& rows, std::size_t count, const auto& at) {
        for (std::size_t f = 0; f < d; ++f) {
            const double mu = means[f];
            double sum = squares[f];
            for (std::size_t i = 0; i < count; ++i) sum += (rows[f][at(i)] - mu) * (rows[f][at(i)] - mu);
            squares[f] = sum;
        }
    });
    Standardization s{Matrix({d, std::size_t{1}}), Matrix({d, std::size_t{1}})};
    for (std::size_t f = 0; f < d; ++f) {
        const double mu = means[f], sigma = std::sqrt(squares[f] / static_cast<double>(n));
        s.mean(f, 0) = mu;
        s.std(f, 0) = sigma > 1e-12 * std::max(1.0, std::abs(mu)) ? sigma : 1.0;
    }
    return s;
}

std::vector<const double*> row_pointers(const Matrix& X) {
    std::vector<const double*> rows;
    for (std::size_t f = 0; f < X.shape(0); ++f) rows.push_back(X.data() + f * X.shape(1));
    return rows;
}

}  // namespace

Standardization Standardization::of(const Matrix& X) {
    return standardization_of(X.shape(0), [&](const auto& add) {
        add(row_pointers(X), X.shape(1), [](std::size_t i) { return i; });
    });
}

Standardization Standardization::of(const Matrix& X, const std::vector<std::size_t>& columns) {
    return standardization_of(X.shape(0), [&](const auto& add) {
        add(row_pointers(X), columns.size(), [&](std::size_t i) { return columns[i]; });
    });
}

Standardization Standardization::of(std::size_t features, const std::function<void(const Piece& add)>& pass) {
    return standardization_of(features, [&](const auto& add) {
        pass([&](const std::vector<const double*>& rows, const std::vector<std::size_t>& positions) {
            add(rows, positions.size(), [&](std::size_t i) { return positions[i]; });
        });
    });
}

void Standardization::apply_in_place(Matrix& X) const {
    const std::size_t n = X.shape(1);
    for (std::size_t f = 0; f < X.shape(0); ++f)
        for (double* x = X.data() + f * n; x != X.data() + (f + 1) * n; ++x) *x = (*x - mean(f, 0)) / std(f, 0);
}

Matrix Standardization::apply(const Matrix& X) const { return (X - mean) / std; }
Matrix Standardization::undo(const Matrix& Z) const { return Z * std + mean; }

std::vector<std::size_t> TargetCoding::class_indices(const Matrix& y) const {
    std::vector<std::size_t> indices(y.size());
    for (std::size_t j = 0; j < y.size(); ++j) {
        const auto at = std::lower_bound(classes.begin(), classes.end(), y(0, j));
        if (at == classes.end() || *at != y(0, j)) {
            throw TargetError(j, "the label is " + label_text(y(0, j)) +
                                     (task == Task::binary ? "; labels must be 0 or 1"
                                                           : "; the classes are " + label_list_text(classes)));
        }
        indices[j] = static_cast<std::size_t>(at - classes.begin());
    }
    return indices;
}

Matrix TargetCoding::encode(const Matrix& y) const {
    if (task == Task::regression) return scale.apply(y);
    const std::vector<std::size_t> index = class_indices(y);
    if (task == Task::binary) return Matrix(y);
    Matrix one_hot = xt::zeros<double>({classes.size(), y.size()});
    for (std::size_t j = 0; j < index.size(); ++j) one_hot(index[j], j) = 1.0;
    return one_hot;
}

Prediction Model::predict(const Matrix& X) const { return predict_standardized(features.apply(X)); }

Prediction Model::predict_standardized(const Matrix& X) const {
    const Matrix out = mlp.predict(X);  // binary: σ(z); otherwise the linear output
    const std::size_t n = out.shape(1);
    Prediction p{Matrix({std::size_t{1}, n}), Matrix()};
    if (target.task == Task::regression) {
        p.values = target.scale.undo(out);
        return p;
    }
    if (target.task == Task::binary) {
        p.probabilities = Matrix({std::size_t{2}, n});
        for (std::size_t j = 0; j < n; ++j) {
            p.probabilities(0, j) = 1.0 - out(0, j);
            p.probabilities(1, j) = out(0, j);
        }
    } else {  // softmax of each column of logits, shifted by its maximum so no exp overflows
        p.probabilities = out;
        for (std::size_t j = 0; j < n; ++j) {
            double top = out(0, j), sum = 0.0;
            for (std::size_t i = 1; i < out.shape(0); ++i) top = std::max(top, out(i, j));
            for (std::size_t i = 0; i < out.shape(0); ++i) sum += p.probabilities(i, j) = std::exp(out(i, j) - top);
            for (std::size_t i = 0; i < out.shape(0); ++i) p.probabilities(i, j) /= sum;
        }
    }
    for (std::size_t j = 0; j < n; ++j) {  // the most probable class (ties: the first), as argmax_accuracy
        std::size_t best = 0;
        for (std::size_t i = 1; i < p.probabilities.shape(0); ++i)
            if (p.probabilities(i, j) > p.probabilities(best, j)) best = i;
        if (target.task == Task::binary) best = out(0, j) >= 0.5;  // the slides' rule: σ(z) >= 0.5 is class 1
        p.values(0, j) = target.classes[best];
    }
    return p;
}

void check_model_destination(const std::string& dir) {
    std::error_code error;
    const fs::file_status status = fs::status(dir, error);
    if (!fs::exists(status)) {
        std::string path = dir;
        while (path.size() > 1 && path.back() == '/') path.pop_back();
        io::check_output_path(path);  // its parent directory must exist and be writable
        return;
    }
    if (!fs::is_directory(status))
        throw InputError(dir + ": exists and is not a directory; choose another --save path");
    if (fs::is_empty(dir, error) || fs::exists(fs::path(dir) / "model.json")) return;
    throw InputError(dir + ": exists and is not a matgrad model directory (no model.json); "
                           "refusing to replace it");
}

void save_model(const std::string& dir, const Model& model) {
    const std::string staged = io::make_staging_directory(dir);
    try {
        write_model_files(staged, model);
    } catch (...) {
        std::error_code ignored;
        fs::remove_all(staged, ignored);
        throw;
    }
    io::publish_directory(staged, dir);
}

void write_model_files(const std::string& dir, const Model& model) {
    const fs::path out(dir);
    const std::vector<std::size_t> sizes = model.mlp.sizes();
    for (std::size_t l = 1; l < sizes.size(); ++l) {
        io::write_npy((out / ("W" + std::to_string(l) + ".npy")).string(), model.mlp.layer(l).W);
        io::write_npy((out / ("b" + std::to_string(l) + ".npy")).string(), model.mlp.layer(l).b);
    }
    io::write_npy((out / "mean.npy").string(), model.features.mean);
    io::write_npy((out / "std.npy").string(), model.features.std);
    if (!model.seen_rows.empty()) {
        Matrix seen({std::size_t{1}, model.seen_rows.size()});
        std::copy(model.seen_rows.begin(), model.seen_rows.end(), seen.begin());  // < 2^53: exact
        io::write_npy((out / "seen_rows.npy").string(), seen);
    }
    nlohmann::json description = {
        {"format", model_format},
        {"version", model_version},
        {"task", task_name(model.target.task)},
        {"task_reason", model.task_reason},
        {"sizes", sizes},
        {"hidden_activation", activation_name(model.mlp.hidden_activation())},
        {"output_activation", activation_name(model.mlp.output_activation())},
        {"features", model.feature_names},
        {"label", model.label}};
    if (model.target.task == Task::regression) {
        description["target_mean"] = model.target.scale.mean(0, 0);
        description["target_std"] = model.target.scale.std(0, 0);
    } else {
        description["classes"] = model.target.classes;
    }
    io::write_text_file((out / "model.json").string(), description.dump(2) + "\n");
}

Model load_model(const std::string& dir) {
    const fs::path root(dir);
    std::error_code error;
    if (!fs::is_directory(root, error))
        throw InputError(dir + ": no such model directory (write one with matgrad train --save)");
    const std::string json_path = (root / "model.json").string();
    std::vector<std::size_t> sizes;
    std::string hidden, output, label, reason;
    std::vector<std::string> features;
    TargetCoding target{Task::binary, {0.0, 1.0}};
    try {
        const nlohmann::json j = nlohmann::json::parse(io::read_text_file(json_path));
        if (j.at("format") != model_format)
            throw InputError(json_path + ": not a " + std::string(model_format) + " model");
        const int version = j.at("version").get<int>();
        if (version < 1 || version > model_version)
            throw InputError(json_path + ": model format version " + std::to_string(version) +
                             " is not supported (this matgrad reads versions 1 to " +
                             std::to_string(model_version) + "; retrain or update matgrad)");
        sizes = j.at("sizes").get<std::vector<std::size_t>>();
        hidden = j.at("hidden_activation").get<std::string>();
        output = j.at("output_activation").get<std::string>();
        features = j.at("features").get<std::vector<std::string>>();
        label = j.at("label").get<std::string>();
        if (version >= 2) {  // version 1 models are binary classifiers of 0/1 labels
            target.task = parse_task(j.at("task").get<std::string>());
            reason = j.at("task_reason").get<std::string>();
            target.classes.clear();
            if (target.task == Task::regression)
                target.scale = {Matrix{{j.at("target_mean").get<double>()}},
                                Matrix{{j.at("target_std").get<double>()}}};
            else
                target.classes = j.at("classes").get<std::vector<double>>();
        }
    } catch (const nlohmann::json::exception& e) {
        throw InputError(json_path + ": " + e.what());
    } catch (const std::invalid_argument& e) {  // parse_task
        throw InputError(json_path + ": " + e.what());
    }
    const bool sorted = std::adjacent_find(target.classes.begin(), target.classes.end(),
                                           std::greater_equal<>()) == target.classes.end();
    if (target.task != Task::regression && (target.classes.size() < 2 || !sorted))
        throw InputError(json_path + ": 'classes' must list at least two distinct labels in increasing order");
    if (target.task == Task::binary && target.classes != std::vector<double>{0.0, 1.0})
        throw InputError(json_path + ": a binary model's 'classes' must be [0, 1]");
    if (!(target.scale.std(0, 0) > 0) || !std::isfinite(target.scale.mean(0, 0)))
        throw InputError(json_path + ": 'target_std' must be positive and 'target_mean' finite");
    if (sizes.size() < 2 || sizes.back() != target.outputs() || features.size() != sizes.front())
        throw InputError(json_path + ": 'sizes' must list the features, the hidden sizes and " +
                         std::to_string(target.outputs()) + " output(s) for its task, with one name in "
                         "'features' per input");
    for (const std::size_t s : sizes)
        if (s == 0) throw InputError(json_path + ": 'sizes' holds a 0");

    Activation hidden_activation, output_activation;
    try {
        hidden_activation = parse_activation(hidden);
        output_activation = parse_activation(output);
    } catch (const std::invalid_argument& e) {
        throw InputError(json_path + ": " + e.what());
    }
    const Activation expected = target.task == Task::binary ? Activation::sigmoid : Activation::identity;
    if (output_activation != expected)
        throw InputError(json_path + ": a " + task_name(target.task) + " model's output_activation must be " +
                         activation_name(expected));
    std::vector<Matrix> W, b;
    for (std::size_t l = 1; l < sizes.size(); ++l) {
        W.push_back(read_array(root, "W" + std::to_string(l) + ".npy", sizes[l], sizes[l - 1]));
        b.push_back(read_array(root, "b" + std::to_string(l) + ".npy", sizes[l], 1));
    }
    return Model{MLP(std::move(W), std::move(b), hidden_activation, output_activation), std::move(target),
                 read_standardization(root, sizes.front()), std::move(features), std::move(label),
                 std::move(reason), read_seen_rows(root)};
}

std::vector<bool> Model::saw(const Matrix& X) const {
    std::vector<bool> seen(X.shape(1), false);
    if (seen_rows.empty()) return seen;
    std::vector<const double*> features;
    for (std::size_t i = 0; i < X.shape(0); ++i) features.push_back(X.data() + i * X.shape(1));
    for (std::size_t j = 0; j < seen.size(); ++j)
        seen[j] = std::binary_search(seen_rows.begin(), seen_rows.end(), row_fingerprint(features, j));
    return seen;
}

std::uint64_t row_fingerprint(const std::vector<const double*>& features, std::size_t j) {
    std::uint64_t h = 0x9E3779B97F4A7C15u;
    for (const double* feature : features) {
        const double v = feature[j] == 0.0 ? 0.0 : feature[j];
        std::uint64_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        h = mix64(h ^ bits);
    }
    return h >> 12;
}

}  // namespace matgrad::nn
