// `matgrad seed`: the slides' 10-64-1 network on 7 samples, every forward step with its shapes in
// the slides' notation, and every gradient checked three ways: autodiff, the slides' hand formula
// (nn::reference_pass) and central finite differences.
#include "commands.hpp"
#include "slides_model.hpp"  // generated from examples/models/slides.mg

#include <nn/init.hpp>
#include <nn/reference.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace matgrad::cli {
namespace {

constexpr double hand_tolerance = 1e-12;  // autodiff vs the hand formula: both exact up to rounding
constexpr double fd_tolerance = 1e-6;     // vs central differences with step 1e-6 (error ~ step²)

std::string shape(const Matrix& m) { return std::to_string(m.shape(0)) + "×" + std::to_string(m.shape(1)); }

/// Pads to `width` terminal columns; the notation has multi-byte UTF-8 characters (×, σ, ᵀ, ⊙).
std::string pad(const std::string& s, std::size_t width) {
    const auto columns = static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;  // count all but continuation bytes
    }));
    return s + std::string(columns < width ? width - columns : 0, ' ');
}

double max_abs_diff(const Matrix& a, const Matrix& b) {
    double worst = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) {
        const double d = std::abs(a.data()[k] - b.data()[k]);
        if (!(d <= worst)) worst = d;  // NaN wins
    }
    return worst;
}

/// "A[l]" in the slides' notation, with A[0] written X.
std::string A_name(std::size_t l) { return l == 0 ? "X" : "A[" + std::to_string(l) + "]"; }

void print_forward(const std::vector<Matrix>& W, const std::vector<Matrix>& b, const nn::ForwardBackward& r) {
    std::printf("Forward pass (samples are columns)\n");
    for (std::size_t l = 1; l <= r.depth(); ++l) {
        const std::string i = std::to_string(l);
        std::printf("  %s(%s)(%s) + (%s) = %s\n",
                    pad("Z[" + i + "] = W[" + i + "] " + A_name(l - 1) + " + b[" + i + "]", 26).c_str(),
                    shape(W[l - 1]).c_str(), shape(r.A[l - 1]).c_str(), shape(b[l - 1]).c_str(),
                    shape(r.Z[l]).c_str());
        std::printf("  %sσ(%s) = %s\n", pad(A_name(l) + " = σ(Z[" + i + "])", 26).c_str(), shape(r.Z[l]).c_str(),
                    shape(r.A[l]).c_str());
    }
    const std::string AL = A_name(r.depth());
    std::printf("  J = -(1/n) Σ ( Y log %s + (1 - Y) log(1 - %s) ) = %.12f   (n = %zu)\n\n", AL.c_str(),
                AL.c_str(), r.J, r.A[0].shape(1));
}

void print_row(const char* label, const Matrix& m, int decimals) {
    std::printf("  %s", pad(label, 6).c_str());
    for (double v : m) std::printf(" %7.*f", decimals, v);
    std::printf("\n");
}

struct GradientRow {
    std::string name, formula;
    const Matrix* autodiff;
    const Matrix* hand;
    Matrix numeric;  // empty when there is no finite-difference check (intermediates)
};

/// The gradients in the order the slides derive them: dA[L], dZ[L], dW[L], db[L], dA[L-1], ...
std::vector<GradientRow> gradient_rows(const nn::ForwardBackward& ad, const nn::ForwardBackward& ref,
                                       const std::vector<Matrix>& params, const Matrix& X, const Matrix& Y) {
    const GraphBuilder loss = nn::mlp_loss(X, Y);
    const std::size_t L = ref.depth();
    std::vector<GradientRow> rows;
    for (std::size_t l = L; l >= 1; --l) {
        const std::string i = std::to_string(l), next = std::to_string(l + 1);
        const std::string A = A_name(l), dZ = "dZ[" + i + "]";
        rows.push_back({"dA" + i,
                        l == L ? "(-Y/" + A + " + (1-Y)/(1-" + A + ")) / n" : "W[" + next + "]ᵀ dZ[" + next + "]",
                        &ad.dA[l], &ref.dA[l], {}});
        rows.push_back({"dZ" + i, l == L ? "(" + A + " - Y) / n" : "dA[" + i + "] ⊙ " + A + "(1 - " + A + ")",
                        &ad.dZ[l], &ref.dZ[l], {}});
        rows.push_back({"dW" + i, dZ + " " + A_name(l - 1) + "ᵀ", &ad.dW[l], &ref.dW[l],
                        numerical_gradient(loss, params, 2 * l - 2)});
        rows.push_back({"db" + i, "row sums of " + dZ, &ad.db[l], &ref.db[l],
                        numerical_gradient(loss, params, 2 * l - 1)});
    }
    return rows;
}

/// The check of one gradient, as the text table and the JSON show it.
struct GradientCheck {
    std::string name, formula, shape;
    double autodiff_vs_hand;
    double autodiff_vs_fd, hand_vs_fd;  // NaN: no finite-difference check
    bool ok;
};

nlohmann::ordered_json number_or_null(double x) {
    return std::isnan(x) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(x);
}

int run_seed(std::uint64_t seed, bool json) {
    // The slides' setup: X 10x7, W1 64x10, b1 64x1, W2 1x64, b2 1x1, 7 labels.
    nn::Rng rng(seed);
    const Matrix X = nn::random_normal(10, 7, rng);
    const Matrix Y{{1, 0, 1, 1, 0, 0, 1}};
    std::vector<Matrix> W{Matrix({64, 10}), Matrix({1, 64})}, b;
    for (Matrix& w : W) {
        nn::xavier_uniform(w, rng);
        b.push_back(nn::random_normal(w.shape(0), 1, rng, 0.1));  // small, non-zero: the broadcast + b shows in Z
    }
    std::vector<Matrix> params;
    for (std::size_t l = 0; l < W.size(); ++l) {
        params.push_back(W[l]);
        params.push_back(b[l]);
    }

    const nn::ForwardBackward ref = nn::reference_pass(W, b, X, Y);
    const nn::ForwardBackward ad = nn::autodiff_pass(W, b, X, Y);

    bool all_ok = std::abs(ad.J - ref.J) <= hand_tolerance;
    std::vector<GradientCheck> checks;
    for (const GradientRow& row : gradient_rows(ad, ref, params, X, Y)) {
        const double hand = max_abs_diff(*row.autodiff, *row.hand);
        GradientCheck c{row.name, row.formula, shape(*row.hand), hand, NAN, NAN,
                        hand <= hand_tolerance && row.autodiff->shape() == row.hand->shape()};
        if (row.numeric.size() > 0) {
            c.autodiff_vs_fd = max_abs_diff(*row.autodiff, row.numeric);
            c.hand_vs_fd = max_abs_diff(*row.hand, row.numeric);
            c.ok = c.ok && c.autodiff_vs_fd <= fd_tolerance && c.hand_vs_fd <= fd_tolerance;
        }
        all_ok = all_ok && c.ok;
        checks.push_back(c);
    }

    if (json) {
        nlohmann::ordered_json gradients = nlohmann::ordered_json::array();
        for (const GradientCheck& c : checks)
            gradients.push_back({{"name", c.name},
                                 {"formula", c.formula},
                                 {"shape", c.shape},
                                 {"autodiff_vs_hand", c.autodiff_vs_hand},
                                 {"autodiff_vs_fd", number_or_null(c.autodiff_vs_fd)},
                                 {"hand_vs_fd", number_or_null(c.hand_vs_fd)},
                                 {"ok", c.ok}});
        const nlohmann::ordered_json out{{"seed", seed},
                                         {"sizes", {10, 64, 1}},
                                         {"samples", 7},
                                         {"J", {{"autodiff", ad.J}, {"hand", ref.J}}},
                                         {"gradients", gradients},
                                         {"tolerances", {{"hand", hand_tolerance}, {"fd", fd_tolerance}}},
                                         {"ok", all_ok}};
        std::printf("%s\n", out.dump(2).c_str());
        return all_ok ? 0 : 1;
    }

    std::printf("The slides' network: 10-64-1, sigmoid on every layer, mean binary cross-entropy, 7 samples\n"
                "(seed %llu: X ~ N(0,1), W Xavier-uniform, b ~ N(0, 0.1²))\n\n",
                static_cast<unsigned long long>(seed));
    print_forward(W, b, ref);
    print_row("Y", Y, 0);
    print_row(A_name(ref.depth()).c_str(), ref.A[ref.depth()], 4);
    std::printf("  J: autodiff %.15f, hand %.15f\n\n", ad.J, ref.J);

    std::printf("Backward pass: autodiff vs the slides' hand formula vs central finite differences (FD)\n");
    std::printf("  %s%s%s%s%s%s\n", pad("gradient", 10).c_str(), pad("shape", 8).c_str(),
                pad("hand formula", 34).c_str(), pad("|autodiff-hand|", 17).c_str(), pad("|autodiff-FD|", 15).c_str(),
                "|hand-FD|");
    for (const GradientCheck& c : checks) {
        char ad_fd[32] = "-", hand_fd[32] = "-", hand_text[32];
        if (!std::isnan(c.autodiff_vs_fd)) {
            std::snprintf(ad_fd, sizeof ad_fd, "%.1e", c.autodiff_vs_fd);
            std::snprintf(hand_fd, sizeof hand_fd, "%.1e", c.hand_vs_fd);
        }
        std::snprintf(hand_text, sizeof hand_text, "%.1e", c.autodiff_vs_hand);
        std::printf("  %s%s%s%s%s%s%s\n", pad(c.name, 10).c_str(), pad(c.shape, 8).c_str(),
                    pad(c.formula, 34).c_str(), pad(hand_text, 17).c_str(), pad(ad_fd, 15).c_str(),
                    pad(hand_fd, 11).c_str(), c.ok ? "ok" : "DISAGREE");
    }
    std::printf("\nTolerances: %g autodiff vs hand formula, %g against FD (step 1e-6; FD only for dW, db).\n",
                hand_tolerance, fd_tolerance);
    std::printf(all_ok ? "All gradients agree.\n" : "Some gradients DISAGREE (see above).\n");
    return all_ok ? 0 : 1;
}

}  // namespace

void add_seed_command(CLI::App& app, int& status) {
    CLI::App* cmd = app.add_subcommand(
        "seed", "Run the slides' 10-64-1 MLP and check every gradient three ways");
    cmd->footer(
        "Builds the lecture slides' network (X 10x7, W1 64x10, b1 64x1, W2 1x64, b2 1x1, 7 labels,\n"
        "sigmoid on both layers, mean binary cross-entropy) from seeded random values, prints each\n"
        "forward step with its shapes, J, and for dA2, dZ2, dW2, db2, dA1, dZ1, dW1, db1 the largest\n"
        "difference between autodiff, the slides' hand formula (with the mean's 1/n) and central\n"
        "finite differences. Exit status 1 if any pair differs by more than 1e-12 (autodiff vs hand)\n"
        "or 1e-6 (vs finite differences).\n\n"
        "Example:\n"
        "  matgrad seed\n"
        "  matgrad seed --seed 7\n"
        "  matgrad seed --print-model > slides.mg");
    auto seed = std::make_shared<std::uint64_t>(1);
    auto format = std::make_shared<std::string>("text");
    auto print_model = std::make_shared<bool>(false);
    cmd->add_option("--seed", *seed, "Seed of the random X, W and b")->check(seed_number)->capture_default_str();
    cmd->add_option("--format", *format, "text, or json: J and every gradient's three differences")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    cmd->add_flag("--print-model", *print_model,
                  "Print the network as a model file instead (examples/models/slides.mg; see `matgrad grad MODEL`)");
    cmd->callback([seed, format, print_model, &status] {
        if (*print_model)
            std::fputs(kSlidesModel, stdout);
        else
            status = run_seed(*seed, *format == "json");
    });
}

}  // namespace matgrad::cli
