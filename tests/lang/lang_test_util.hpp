// Helpers of the model-language tests: reading example models, and skipping what needs ops the
// engine does not have yet (the tests turn on by themselves once the op registry has them).
#pragma once

#include "../../lang/src/op_shim.hpp"  // TEMPORARY: <autodiff/registry.hpp> after the [ops] merge

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

/// True when every op is registered; otherwise reports the test as skipped and why.
inline bool have_ops(const std::vector<std::string>& ops) {
    const std::vector<std::string> known = op_names();
    std::string missing;
    for (const std::string& op : ops)
        if (std::find(known.begin(), known.end(), op) == known.end()) missing += (missing.empty() ? "" : ", ") + op;
    if (!missing.empty()) MESSAGE("SKIPPED: needs the ops " << missing << " (from the [ops] branch)");
    return missing.empty();
}

}  // namespace matgrad::test
