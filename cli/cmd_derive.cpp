// `matgrad derive MODEL`: the model's right derivation, as a derivation file (lang::Model::derive)
// that `matgrad verify MODEL --hand FILE` finds all right.
#include "commands.hpp"
#include "model_input.hpp"

#include <memory>

namespace matgrad::cli {

namespace {

struct DeriveOptions {
    ModelOptions model;
    std::string format = "mg";
    std::string out = "-";
};

}  // namespace

void add_derive_command(CLI::App& app, int& status) {
    auto options = std::make_shared<DeriveOptions>();
    CLI::App* cmd = app.add_subcommand("derive", "Write the model's right derivation (an answer key for verify --hand)");
    cmd->footer(
        "Writes dNAME = ... for every named node and param that needs a gradient, in reverse order, with\n"
        "unnamed intermediates' gradients as helpers (g1, g2, ...); values as for `matgrad grad MODEL` (they\n"
        "give the shapes: a broadcast operand's gradient is summed back to its shape; dimension names\n"
        "nothing binds get distinct sizes).\n\n"
        "Example:\n"
        "  matgrad derive examples/models/tanh_mse.mg --seed 1 --out key.mg\n"
        "  matgrad verify examples/models/tanh_mse.mg --seed 1 --hand key.mg   # all ok\n"
        "  matgrad derive examples/models/tanh_mse.mg --seed 1 --format numpy --out tanh_mse_grad.py\n"
        "With --format numpy: a Python module using numpy alone, one line per step with its shape as a\n"
        "comment, defining gradients(values) (a dict name -> 2-D array of the inputs and params) that returns\n"
        "the output's value under its name and d<param> for every param.");
    add_model_options(*cmd, options->model);
    cmd->add_option("--format", options->format,
                    "mg: a derivation file in the model language; numpy: a Python module (numpy only) defining "
                    "gradients(values); json: {\"model\", \"output\", \"values\", \"derivation\"} (the mg text)")
        ->check(CLI::IsMember({"mg", "numpy", "json"}))
        ->capture_default_str();
    cmd->add_option("--out", options->out, "Output file (written atomically); - or none: stdout");
    cmd->callback([options, &status] {
        if (options->model.model.empty()) throw std::invalid_argument("derive: give a MODEL file");
        ModelOptions model = options->model;
        model.draw_dims = true;
        io::OutputSet outputs;
        const LoadedModel m = load_model(model, &outputs);
        write_document(outputs, options->out,
                       options->format == "json"    ? report::derive_json(m)
                       : options->format == "numpy" ? m.model.derive(m.values, lang::Model::DeriveFormat::numpy)
                                                    : m.model.derive(m.values));
        status = 0;
    });
}

}  // namespace matgrad::cli
