// The model directory `matgrad train --save DIR` writes and `matgrad predict --model DIR` reads:
//   model.json        {"format": "matgrad-mlp", "version": 1, "sizes": [30, 32, 1],
//                      "hidden_activation": "relu", "output_activation": "sigmoid",
//                      "features": [...column names...], "label": "benign"}
//   W1.npy, b1.npy, ..., WL.npy, bL.npy   the MLP's parameters (W out x in, b out x 1)
//   mean.npy, std.npy                     features x 1: the training set's standardization
#pragma once

#include <nn/layers.hpp>

#include <string>
#include <vector>

namespace matgrad::cli {

struct SavedModel {
    nn::MLP mlp;
    Matrix mean;  ///< features x 1
    Matrix std;   ///< features x 1, all > 0
    std::vector<std::string> features;
    std::string label;
};

/// Refuses (io::InputError) to use `dir` as a model destination when it exists and is neither
/// empty nor a matgrad model directory: replacing it would delete someone's files.
void check_model_destination(const std::string& dir);

/// Writes every file into a temporary directory beside `dir`, then swaps it into place in one
/// rename (io::publish_directory): a failure never leaves a partial model or damages the old one.
void save_model(const std::string& dir, const SavedModel& model);

/// Reads and cross-checks a model directory; io::InputError names the file at fault.
SavedModel load_model(const std::string& dir);

}  // namespace matgrad::cli
