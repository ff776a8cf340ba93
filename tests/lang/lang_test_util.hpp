// Helpers of the model-language tests: reading example models.
#pragma once

#include <lang/model.hpp>

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace matgrad::test {

inline std::string model_path(const std::string& name) { return std::string(MATGRAD_MODELS_DIR) + "/" + name; }

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

inline lang::Model example_model(const std::string& name) {
    return lang::Model::parse(read_text(model_path(name + ".mg")), name + ".mg");
}

}  // namespace matgrad::test
