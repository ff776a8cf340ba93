// `matgrad verify`: compares gradients derived by hand (dW1.npy, db1.npy, ...) with autodiff and
// names the mistake behind each wrong one (nn::verify_mlp).
#include "commands.hpp"
#include "model_input.hpp"

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
    ModelOptions model;
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

void print_json(const std::vector<nn::GradientReport>& reports) {
    nlohmann::ordered_json gradients = nlohmann::ordered_json::array();
    for (const nn::GradientReport& r : reports) {
        nlohmann::ordered_json also = nlohmann::ordered_json::array();
        for (nn::Diagnosis d : r.also) also.push_back(nn::diagnosis_name(d));
        // NaN is not JSON: errors against the true gradient exist only when the shapes agree.
        auto number_or_null = [](double x) { return std::isnan(x) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(x); };
        gradients.push_back({{"param", r.param},
                             {"diagnosis", nn::diagnosis_name(r.diagnosis)},
                             {"also", also},
                             {"factor", r.factor},
                             {"max_abs_error", number_or_null(r.max_abs_error)},
                             {"max_rel_error", number_or_null(r.max_rel_error)},
                             {"worst_index", std::isnan(r.max_abs_error) ? nlohmann::ordered_json(nullptr)
                                                                         : nlohmann::ordered_json({r.worst_row, r.worst_col})},
                             {"expected_shape", r.expected_shape},
                             {"given_shape", r.given_shape},
                             {"hint", r.hint}});
    }
    std::cout << nlohmann::ordered_json{{"gradients", gradients}}.dump(2) << "\n";
}

void print_table(const std::vector<nn::GradientReport>& reports, double tol) {
    std::vector<std::vector<std::string>> rows{{"gradient", "expected", "yours", "max |error|", "diagnosis", "hint"}};
    std::size_t ok = 0;
    for (const nn::GradientReport& r : reports) {
        char error[32] = "-";
        if (!std::isnan(r.max_abs_error)) std::snprintf(error, sizeof error, "%.3g", r.max_abs_error);
        rows.push_back({r.param, shape_string(r.expected_shape), shape_string(r.given_shape), error,
                        r.diagnosis_text(), r.hint});
        ok += r.ok();
    }
    std::cout << format_table(rows) << "\n"
              << reports.size() << " hand gradient" << (reports.size() == 1 ? "" : "s")
              << " checked against autodiff (tolerance " << tol << " of each gradient's scale): " << ok << " ok, "
              << reports.size() - ok << " wrong\n";
}

int run_verify(const VerifyOptions& o) {
    const std::vector<nn::GradientReport> reports =
        o.model.model.empty() ? nn::verify_mlp(nn::load_mlp_problem(o.source), read_hand_gradients(o.hand), o.tol)
                              : model_gradient_reports(o.model, o.hand, read_hand_gradients(o.hand), o.tol);
    if (o.json)
        print_json(reports);
    else
        print_table(reports, o.tol);
    for (const nn::GradientReport& r : reports)
        if (!r.ok()) return 1;
    return 0;
}

}  // namespace

void add_verify_command(CLI::App& app, int& status) {
    auto options = std::make_shared<VerifyOptions>();
    CLI::App* cmd = app.add_subcommand("verify", "Check hand-derived gradients against autodiff and diagnose mistakes");
    cmd->footer(
        "For each file in --hand (dW1.npy, db1.npy, ..., also dZ1.npy, dA2.npy, ...; any subset) prints one\n"
        "diagnosis: ok, transposed, missing_mean_factor (n times too large), extra_mean_factor, sign_flipped,\n"
        "scaled, not_summed (a bias gradient left per sample), missing_activation_derivative (σ'(Z) left out of\n"
        "the hidden layers), wrong_shape or unexplained, with a hint in the slides' notation.\n"
        "Exit status: 0 all ok, 1 any wrong, 2 bad input.\n\n"
        "Example:\n"
        "  matgrad grad --data data/ --params params/ --out grads/   # writes the true dW1.npy, ...\n"
        "  matgrad verify --data data/ --params params/ --hand mine/ --json\n"
        "With a MODEL file: --hand holds d<param>.npy or d<node>.npy for its params and named nodes; each is\n"
        "compared with autodiff (ok, transposed, sign_flipped, scaled, wrong_shape or unexplained).\n"
        "  matgrad verify examples/models/l2_logistic.mg --inputs examples/models/l2_logistic --seed 1 --hand mine/");
    cmd->add_option("--data", options->source.data_dir, "Directory with X.npy (features x samples) and Y.npy (1 x samples, 0/1)");
    cmd->add_option("--params", options->source.params_dir, "Directory with W1.npy, b1.npy, ..., WL.npy, bL.npy");
    add_model_options(*cmd, options->model);
    cmd->add_option("--hand", options->hand, "Directory with your gradients: dW1.npy, db1.npy, ...")->required();
    cmd->add_flag("--json", options->json, "Print the diagnoses as JSON");
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
