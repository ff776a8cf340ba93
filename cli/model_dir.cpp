// Saving and loading the model directory (layout in model_dir.hpp).
#include "model_dir.hpp"

#include <nn/io.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <system_error>

namespace matgrad::cli {
namespace {

namespace fs = std::filesystem;
using io::InputError;

constexpr const char* model_format = "matgrad-mlp";
constexpr int model_version = 1;


/// Reads `dir/name` and checks it is rows x cols.
Matrix read_array(const fs::path& dir, const std::string& name, std::size_t rows, std::size_t cols) {
    const std::string path = (dir / name).string();
    Matrix m = io::read_npy(path);
    if (m.shape(0) != rows || m.shape(1) != cols)
        throw InputError(path + ": is " + shape_string(m) + " but model.json's sizes need " +
                         std::to_string(rows) + "x" + std::to_string(cols));
    return m;
}

}  // namespace

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

void save_model(const std::string& dir, const SavedModel& model) {
    const std::string staged = io::make_staging_directory(dir);
    try {
        const fs::path out(staged);
        const std::vector<std::size_t> sizes = model.mlp.sizes();
        for (std::size_t l = 1; l < sizes.size(); ++l) {
            io::write_npy((out / ("W" + std::to_string(l) + ".npy")).string(), model.mlp.layer(l).W);
            io::write_npy((out / ("b" + std::to_string(l) + ".npy")).string(), model.mlp.layer(l).b);
        }
        io::write_npy((out / "mean.npy").string(), model.mean);
        io::write_npy((out / "std.npy").string(), model.std);
        const nlohmann::json description = {
            {"format", model_format},
            {"version", model_version},
            {"sizes", sizes},
            {"hidden_activation", nn::activation_name(model.mlp.hidden_activation())},
            {"output_activation", nn::activation_name(model.mlp.output_activation())},
            {"features", model.features},
            {"label", model.label}};
        io::write_text_file((out / "model.json").string(), description.dump(2) + "\n");
    } catch (...) {
        std::error_code ignored;
        fs::remove_all(staged, ignored);
        throw;
    }
    io::publish_directory(staged, dir);
}

SavedModel load_model(const std::string& dir) {
    const fs::path root(dir);
    std::error_code error;
    if (!fs::is_directory(root, error))
        throw InputError(dir + ": no such model directory (write one with matgrad train --save)");
    const std::string json_path = (root / "model.json").string();
    std::vector<std::size_t> sizes;
    std::string hidden, output, label;
    std::vector<std::string> features;
    try {
        const nlohmann::json j = nlohmann::json::parse(io::read_text_file(json_path));
        if (j.at("format") != model_format || j.at("version") != model_version)
            throw InputError(json_path + ": not a version " + std::to_string(model_version) + " " +
                             model_format + " model");
        sizes = j.at("sizes").get<std::vector<std::size_t>>();
        hidden = j.at("hidden_activation").get<std::string>();
        output = j.at("output_activation").get<std::string>();
        features = j.at("features").get<std::vector<std::string>>();
        label = j.at("label").get<std::string>();
    } catch (const nlohmann::json::exception& e) {
        throw InputError(json_path + ": " + e.what());
    }
    if (sizes.size() < 2 || sizes.back() != 1 || features.size() != sizes.front())
        throw InputError(json_path + ": 'sizes' must list the features, the hidden sizes and 1 "
                                     "output, with one name in 'features' per input");
    for (const std::size_t s : sizes)
        if (s == 0) throw InputError(json_path + ": 'sizes' holds a 0");

    nn::Activation hidden_activation, output_activation;
    try {
        hidden_activation = nn::parse_activation(hidden);
        output_activation = nn::parse_activation(output);
    } catch (const std::invalid_argument& e) {
        throw InputError(json_path + ": " + e.what());
    }
    std::vector<Matrix> W, b;
    for (std::size_t l = 1; l < sizes.size(); ++l) {
        W.push_back(read_array(root, "W" + std::to_string(l) + ".npy", sizes[l], sizes[l - 1]));
        b.push_back(read_array(root, "b" + std::to_string(l) + ".npy", sizes[l], 1));
    }
    Matrix mean = read_array(root, "mean.npy", sizes.front(), 1);
    Matrix std = read_array(root, "std.npy", sizes.front(), 1);
    for (std::size_t i = 0; i < std.shape(0); ++i)
        if (!(std(i, 0) > 0))
            throw InputError((root / "std.npy").string() + ": element (" + std::to_string(i) +
                             ",0) is not positive");
    return SavedModel{nn::MLP(std::move(W), std::move(b), hidden_activation, output_activation),
                      std::move(mean), std::move(std), std::move(features), std::move(label)};
}

}  // namespace matgrad::cli
