// `matgrad verify`: compares gradients derived by hand (dW1.npy, db1.npy, ...) with autodiff and
// names the mistake behind each wrong one (nn::verify_mlp_report, i.e. matgrad::verify on the
// slides' network recorded on a tape).
#include "commands.hpp"
#include "model_input.hpp"

#include <autodiff/inspect.hpp>
#include <lang/derivation.hpp>
#include <nn/io.hpp>
#include <nn/verify.hpp>

#include <report/render.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

namespace matgrad::cli {

namespace {

namespace fs = std::filesystem;

struct VerifyOptions {
    nn::MlpSource source;
    ModelOptions model;
    std::string hand;
    DocumentOptions document;
    bool json = false;
    double tol = 1e-8;
};

/// The --hand files: values by name, and which came from 1-D files (VerifyOptions::one_dimensional).
struct HandGradients {
    std::map<std::string, Matrix> values;
    std::set<std::string> one_dimensional;
};

/// Every .npy in `dir`, keyed by its name without the extension ("dW1"); each is an input of
/// `outputs`. A 1-D file (db1 saved as 64 values) is kept, for verify to orient by the gradient it
/// stands for. `tol` is raised to float32's precision (with a note on stderr) when a file holds
/// float32 values.
HandGradients read_hand_gradients(const std::string& dir, io::OutputSet& outputs, double& tol) {
    if (!fs::is_directory(dir)) throw io::InputError(dir + ": not a directory (--hand holds dW1.npy, db1.npy, ...)");
    HandGradients hand;
    std::map<std::string, std::string> dtypes;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir))
        if (entry.path().extension() == ".npy") {
            const std::string name = entry.path().stem().string();
            io::NpyInfo info;
            hand.values[name] = io::read_npy(entry.path().string(), info);
            dtypes[entry.path().filename().string()] = info.dtype;
            if (info.one_dimensional) hand.one_dimensional.insert(name);
            outputs.input(entry.path().string(), "a --hand file");
        }
    if (hand.values.empty()) throw io::InputError(dir + ": no .npy files (expected dW1.npy, db1.npy, ... any subset)");
    std::vector<std::string> single;  // the float32 files, by name
    for (const auto& [file, dtype] : dtypes)
        if (dtype == "float32") single.push_back(file);
    const std::string note = float32_tolerance(single, tol);
    if (!note.empty()) std::fprintf(stderr, "matgrad verify: %s\n", note.c_str());
    return hand;
}

int run_verify(const VerifyOptions& o) {
    const report::Format format = o.json ? report::Format::json : report::parse_format(o.document.format);
    // LaTeX and HTML show the verdicts on the network's (or model's) equations.
    const bool on_equations = format == report::Format::latex || format == report::Format::html;
    VerifyReport verdicts;
    double tol = o.tol;
    std::string checked_against;  // the text format's first line
    NetworkExplanation e;
    io::OutputSet outputs;
    if (o.model.model.empty()) {
        const nn::MlpProblem problem = nn::load_mlp_problem(o.source);
        add_mlp_inputs(outputs, o.source);
        // The slides' network has one sigmoid output; a Y with more rows (one-hot classes) is another model.
        if (problem.Y.shape(0) != 1)
            throw std::invalid_argument(
                (fs::path(o.source.data_dir) / "Y.npy").string() + ": Y is " +
                shape_text(problem.Y.shape(0), problem.Y.shape(1)) +
                ", but --data/--params checks the slides' network with one sigmoid output (Y 1×n); for softmax "
                "regression or any other model, write it as a model file and run matgrad verify MODEL ...");
        const HandGradients hand = read_hand_gradients(o.hand, outputs, tol);  // before tol is read
        verdicts = nn::verify_mlp_report(problem, hand.values, tol, hand.one_dimensional);
        checked_against = nn::describe_mlp(problem);
        if (on_equations) e = explain_network(o.source, problem, false);
    } else {
        ModelOptions model_options = o.model;
        model_options.draw_dims = !fs::is_directory(o.hand);  // a derivation: its sizes need not be given
        const LoadedModel m = load_model(model_options, &outputs);
        if (model_options.draw_dims) {
            outputs.input(o.hand, "the --hand derivation");
            verdicts = report::verify_derivation(m, io::read_text_file(o.hand), o.hand, tol);
        } else {
            const HandGradients hand = read_hand_gradients(o.hand, outputs, tol);  // before tol is read
            verdicts = verify_model(m, o.hand, hand.values, tol, hand.one_dimensional);
        }
        checked_against = report::checked_against(m);
        std::vector<std::string> judged;  // an input with a hand dX gets its own equation to be judged beside
        for (const GradientReport& g : verdicts.gradients) judged.push_back(g.name);
        if (on_equations) e = report::explain_model(m, false, m.model.inputs_with_gradients(judged));
    }
    if (on_equations) e.doc.title = "Hand-derived gradients checked against autodiff: " + e.doc.title;
    write_document(outputs, o.document.out, report::render_verify(verdicts, checked_against, tol, e.lines, format, e.doc));
    return verdicts.ok() ? 0 : 1;
}

}  // namespace

void add_verify_command(CLI::App& app, int& status) {
    auto options = std::make_shared<VerifyOptions>();
    CLI::App* cmd = app.add_subcommand("verify", "Check hand-derived gradients against autodiff and diagnose mistakes");
    cmd->footer(
        "With --data/--params: checks against the slides' network (sigmoid on every layer, mean binary\n"
        "cross-entropy, one output, Y 1 x n); the first line of the output states the layer sizes and shapes\n"
        "it read. With a MODEL file: against that model (see below).\n"
        "For each file in --hand (dW1.npy, db1.npy, ..., also dZ1.npy, dA2.npy, ...; any subset) prints one\n"
        "diagnosis: ok, transposed, missing_mean_factor (n times too large), extra_mean_factor, sign_flipped,\n"
        "scaled, not_summed (a bias gradient left per sample), missing_activation_derivative (σ'(Z) left out),\n"
        "derivative_at_output (σ' taken at A), missing_path (one use of a value left out), wrong_shape or\n"
        "unexplained, with the node where the mistake sits and a hint in the slides' notation, and the first\n"
        "wrong step of the derivation (later wrong lines are marked as its consequences).\n"
        "Exit status: 0 all ok, 1 any wrong, 2 bad input.\n\n"
        "Example:\n"
        "  matgrad grad --data data/ --params params/ --out grads/   # writes the true dW1.npy, ...\n"
        "  matgrad verify --data data/ --params params/ --hand mine/ --format json\n"
        "  matgrad verify --data data/ --params params/ --hand mine/ --format html --out verify.html\n"
        "With a MODEL file: --hand holds d<param>.npy or d<node>.npy for its params and named nodes (and\n"
        "d<input>.npy: that input is then recorded as a variable), judged by the same diagnosis on the\n"
        "model's own graph (the mistakes its ops declare: tanh', softmax's Jacobian, a mean's 1/n, a dropped\n"
        "path, ...), values as for `matgrad grad MODEL`.\n"
        "  matgrad verify examples/models/tanh_mse.mg --inputs examples/models/tanh_mse --seed 1 --dim h=8 --hand mine/\n"
        "With MODEL, --hand may also be a derivation file (*.mg): dNAME = expression per gradient, helpers,\n"
        "the model's names and dimensions, ⊙ ⊘ ᵀ − σ(…) and f'(x). Each dNAME line is judged twice: its value\n"
        "(from your earlier lines; the diagnoses above, or shape_mismatch when it cannot be evaluated) and its\n"
        "step (on the true gradients it uses: ok or wrong). Dimension names nothing binds get distinct sizes.\n"
        "  matgrad verify examples/models/slides.mg --seed 1 --hand examples/derivations/slides.mg");
    cmd->add_option("--data", options->source.data_dir, "Directory with X.npy (features x samples) and Y.npy (1 x samples, 0/1)");
    cmd->add_option("--params", options->source.params_dir, "Directory with W1.npy, b1.npy, ..., WL.npy, bL.npy");
    add_model_options(*cmd, options->model);
    cmd->add_option("--hand", options->hand,
                    "Directory with your gradients: dW1.npy, db1.npy, ...; with MODEL also a derivation file "
                    "(dW1 = dZ1 * Xᵀ, ...)")
        ->required();
    add_document_options(*cmd, options->document);
    cmd->add_flag("--json", options->json, "Same as --format json");
    cmd->add_option("--tol", options->tol, "Match tolerance, relative to each gradient's largest element")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->callback([options, &status] {
        const bool mlp = !options->source.data_dir.empty() && !options->source.params_dir.empty();
        if (options->model.model.empty() == !mlp)
            throw std::invalid_argument("verify: give a MODEL file with --inputs, or --data and --params (the slides' MLP)");
        status = run_verify(*options);
    });
}

}  // namespace matgrad::cli
