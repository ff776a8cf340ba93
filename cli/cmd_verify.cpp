// `matgrad verify`: compares gradients derived by hand (dW1.npy, db1.npy, ...) with autodiff and
// names the mistake behind each wrong one (nn::verify_mlp_report, i.e. matgrad::verify on the
// slides' network recorded on a tape).
#include "commands.hpp"

#include <autodiff/inspect.hpp>
#include <nn/io.hpp>
#include <nn/verify.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

namespace matgrad::cli {

namespace {

namespace fs = std::filesystem;

struct VerifyOptions {
    nn::MlpSource source;
    std::string hand;
    bool json = false;
    double tol = 1e-8;
};

/// Every .npy in `dir`, keyed by its name without the extension ("dW1").
std::map<std::string, Matrix> read_hand_gradients(const std::string& dir) {
    if (!fs::is_directory(dir)) throw io::InputError(dir + ": not a directory (--hand holds dW1.npy, db1.npy, ...)");
    std::map<std::string, Matrix> hand;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir))
        if (entry.path().extension() == ".npy") hand[entry.path().stem().string()] = io::read_npy(entry.path().string());
    if (hand.empty()) throw io::InputError(dir + ": no .npy files (expected dW1.npy, db1.npy, ... any subset)");
    return hand;
}

std::string shape_string(const std::array<std::size_t, 2>& s) { return shape_text(s[0], s[1]); }

void print_json(const VerifyReport& report) {
    using json = nlohmann::ordered_json;
    // NaN is not JSON: errors against the true gradient exist only when the shapes agree.
    auto number_or_null = [](double x) { return std::isnan(x) ? json(nullptr) : json(x); };
    auto string_or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
    json gradients = json::array();
    for (const GradientReport& r : report.gradients)
        gradients.push_back({{"name", r.name},
                             {"diagnosis", r.diagnosis},
                             {"also", r.also},
                             {"node", string_or_null(r.node)},
                             {"op", string_or_null(r.op)},
                             {"factor", r.factor},
                             {"max_abs_error", number_or_null(r.max_abs_error)},
                             {"expected_shape", r.expected_shape},
                             {"given_shape", r.given_shape},
                             {"hint", r.hint},
                             {"consequence_of", string_or_null(r.consequence_of)},
                             // kept for scripts written against the first version:
                             {"param", r.name},
                             {"max_rel_error", number_or_null(r.max_rel_error)},
                             {"worst_index", std::isnan(r.max_abs_error) ? json(nullptr)
                                                                         : json({r.worst_row, r.worst_col})}});
    std::cout << json{{"gradients", gradients}, {"first_wrong_step", string_or_null(report.first_wrong_step)}}.dump(2)
              << "\n";
}

// The derivation's lines in reverse-pass order, ✓ or ✗, and an arrow at the first wrong step.
void print_table(const VerifyReport& report, const std::string& model, double tol) {
    std::vector<std::vector<std::string>> rows{{"", "gradient", "expected", "yours", "max |error|", "diagnosis", "hint"}};
    std::size_t ok = 0;
    for (const GradientReport& r : report.gradients) {
        char error[32] = "-";
        if (!std::isnan(r.max_abs_error)) std::snprintf(error, sizeof error, "%.3g", r.max_abs_error);
        std::string mark = r.ok() ? "✓" : "✗";
        if (r.name == report.first_wrong_step) mark = "→ ✗";
        std::string diagnosis = r.diagnosis_text();
        if (!r.node.empty()) diagnosis += " at " + r.node;
        if (!r.consequence_of.empty()) diagnosis += " (follows from " + r.consequence_of + ")";
        rows.push_back({mark, r.name, shape_string(r.expected_shape), shape_string(r.given_shape), error, diagnosis, r.hint});
        ok += r.ok();
    }
    const std::size_t n = report.gradients.size();
    std::cout << "checking against " << model << "\n\n"
              << format_table(rows) << "\n"
              << n << " hand gradient" << (n == 1 ? "" : "s") << " checked against autodiff (tolerance " << tol
              << " of each gradient's scale): " << ok << " ok, " << n - ok << " wrong\n";
    if (!report.first_wrong_step.empty())
        std::cout << "first wrong step: " << report.first_wrong_step
                  << " (the earliest line of the derivation whose own inputs are right)\n";
}

int run_verify(const VerifyOptions& o) {
    const nn::MlpProblem problem = nn::load_mlp_problem(o.source);
    // The slides' network has one sigmoid output; a Y with more rows (one-hot classes) is another model.
    if (problem.Y.shape(0) != 1)
        throw std::invalid_argument(
            (fs::path(o.source.data_dir) / "Y.npy").string() + ": Y is " + shape_text(problem.Y.shape(0), problem.Y.shape(1)) +
            ", but --data/--params checks the slides' network with one sigmoid output (Y 1×n); for softmax "
            "regression or any other model, write it as a model file and run matgrad verify MODEL ...");
    const VerifyReport report = nn::verify_mlp_report(problem, read_hand_gradients(o.hand), o.tol);
    if (o.json)
        print_json(report);
    else
        print_table(report, nn::describe_mlp(problem), o.tol);
    return report.ok() ? 0 : 1;
}

}  // namespace

void add_verify_command(CLI::App& app, int& status) {
    auto options = std::make_shared<VerifyOptions>();
    CLI::App* cmd = app.add_subcommand("verify", "Check hand-derived gradients against autodiff and diagnose mistakes");
    cmd->footer(
        "Checks against the slides' network: sigmoid on every layer, mean binary cross-entropy, one output\n"
        "(Y 1 x n); the first line of the output states the layer sizes and shapes it read.\n"
        "For each file in --hand (dW1.npy, db1.npy, ..., also dZ1.npy, dA2.npy, ...; any subset) prints one\n"
        "diagnosis: ok, transposed, missing_mean_factor (n times too large), extra_mean_factor, sign_flipped,\n"
        "scaled, not_summed (a bias gradient left per sample), missing_activation_derivative (σ'(Z) left out),\n"
        "derivative_at_output (σ' taken at A), missing_path (one use of a value left out), wrong_shape or\n"
        "unexplained, with the node where the mistake sits and a hint in the slides' notation, and the first\n"
        "wrong step of the derivation (later wrong lines are marked as its consequences).\n"
        "Exit status: 0 all ok, 1 any wrong, 2 bad input.\n\n"
        "Example:\n"
        "  matgrad grad --data data/ --params params/ --out grads/   # writes the true dW1.npy, ...\n"
        "  matgrad verify --data data/ --params params/ --hand mine/ --json");
    cmd->add_option("--data", options->source.data_dir, "Directory with X.npy (features x samples) and Y.npy (1 x samples, 0/1)")
        ->required();
    cmd->add_option("--params", options->source.params_dir, "Directory with W1.npy, b1.npy, ..., WL.npy, bL.npy")
        ->required();
    cmd->add_option("--hand", options->hand, "Directory with your gradients: dW1.npy, db1.npy, ...")->required();
    cmd->add_flag("--json", options->json, "Print the diagnoses as JSON");
    cmd->add_option("--tol", options->tol, "Match tolerance, relative to each gradient's largest element")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->callback([options, &status] { status = run_verify(*options); });
}

}  // namespace matgrad::cli
