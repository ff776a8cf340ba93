// What the model commands (grad, explain, graph, verify, fit MODEL) share: the MODEL argument and
// its value options, loading and checking it all, and the gradients one recording yields.
#pragma once

#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <autodiff/verify.hpp>
#include <lang/model.hpp>
#include <nn/io.hpp>
#include <nn/verify.hpp>
#include <nlohmann/json.hpp>
#include <report/model_documents.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace matgrad::cli {

struct ModelOptions {
    std::string model;                   ///< the .mg file (empty: the command's other form)
    std::string inputs;                  ///< directory with NAME.npy per declared name
    std::vector<std::string> dims;       ///< "n=7"
    std::string output;                  ///< --output: another 1x1 node
    /// With --seed, unbound dimension names get distinct sizes (verify --hand FILE.mg, derive)
    bool draw_dims = false;
    /// --seed, when given: draw the missing values
    std::optional<std::uint64_t> seed() const {
        return seed_option != nullptr && seed_option->count() > 0 ? std::optional(*seed_value) : std::nullopt;
    }

    std::uint64_t own_seed = 0;
    const std::uint64_t* seed_value = &own_seed;  // the --seed option's variable (not copied: options are shared_ptr'd)
    const CLI::Option* seed_option = nullptr;
};

/// Adds the positional MODEL and --inputs, --dim, --output, and --seed -- or, for a command that
/// already has a --seed writing into `existing_seed` (explain, graph), uses that one.
void add_model_options(CLI::App& cmd, ModelOptions& options, const std::uint64_t* existing_seed = nullptr);

/// A parsed model with every declared name's value (report::bind_model checks them).
using report::LoadedModel;
/// Loads the model; with `outputs`, registers every file it reads there as an input (so no output
/// overwrites the model or a value file).
LoadedModel load_model(const ModelOptions& options, io::OutputSet* outputs = nullptr);
/// Registers the .npy files of --data and --params (the slides' MLP) as inputs of `outputs`.
void add_mlp_inputs(io::OutputSet& outputs, const nn::MlpSource& source);

/// One .npy output: DIR/<name>.npy, what it holds ("the gradient of param W", for a collision
/// message), and its value.
struct NpyOutput {
    std::string name, what;
    const Matrix* value;
};
/// Plans each file as DIR/<name>.npy in `outputs` and returns the file names, in order.
std::vector<std::string> plan_npy_files(io::OutputSet& outputs, const std::string& dir, const std::vector<NpyOutput>& files);
/// Writes the planned files (committed by the caller). Refuses values that are not finite (naming
/// the file): matgrad's own reader would refuse them.
void write_npy_files(io::OutputSet& outputs, const std::string& dir, const std::vector<NpyOutput>& files);
/// "J.npy, dW1.npy": a list of written files as the summaries print it.
std::string comma_list(const std::vector<std::string>& files);
/// grad's summary on stdout, for either form: text "<head>; wrote J.npy, dW1.npy to DIR", or with
/// `json` the object `facts` followed by "out" and "files" (exactly the files written).
void print_written(bool json, nlohmann::ordered_json facts, const std::string& head, const std::string& out,
                   const std::vector<std::string>& files);

/// `matgrad grad MODEL`: writes <output>.npy and d<param>.npy (with `all`, d<node>.npy too) to
/// `out` and lists exactly the files written (with `json`, as grad --format json); `save_values`: also every
/// declared name's value, NAME.npy (drawn ones too), for the user to compute with.
int run_model_grad(const ModelOptions& options, const std::string& out, bool all, bool json,
                   const std::string& save_values = "");
/// `matgrad verify MODEL`: matgrad::verify on the model's tape for the hand gradients in `hand`
/// (d<param> or d<node>, read from `hand_dir`; a name the model has no gradient for is an
/// io::InputError naming the file).
VerifyReport verify_model(const LoadedModel& loaded, const std::string& hand_dir,
                          const std::map<std::string, Matrix>& hand, double tol,
                          const std::set<std::string>& one_dimensional = {});

}  // namespace matgrad::cli
