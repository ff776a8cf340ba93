// `matgrad hessian MODEL`: the exact Hessian of a model file's output over its params, written as
// H.npy, with its size, symmetry error and extreme eigenvalues (is the model convex here?).
#include "commands.hpp"
#include "model_input.hpp"

#include <autodiff/second_order.hpp>
#include <nn/io.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace matgrad::cli {
namespace {

namespace fs = std::filesystem;

// H.npy is n x n doubles: 10000 params are 800 MB, and as many HVPs.
constexpr std::size_t kMaxParams = 10000;

struct HessianOptions {
    ModelOptions model;
    std::vector<std::string> wrt;
    std::string out, format = "text";
};

int run_hessian(const HessianOptions& o) {
    if (fs::exists(o.out) && !fs::is_directory(o.out))
        throw io::InputError(o.out + ": exists and is not a directory (--out)");
    io::OutputSet outputs;
    const LoadedModel m = load_model(o.model, &outputs);
    const std::vector<std::string> names = o.wrt.empty() ? m.model.param_names() : o.wrt;
    if (names.empty()) throw std::invalid_argument(o.model.model + ": the model has no param to differentiate");
    std::size_t n = 0;
    for (const std::string& name : names) n += m.values.count(name) ? m.values.at(name).size() : 0;
    if (n > kMaxParams)
        throw std::invalid_argument("hessian: " + std::to_string(n) + " parameters, more than the " +
                                    std::to_string(kMaxParams) + " a dense H.npy is written for (" +
                                    std::to_string(n) + "² doubles); pick fewer with --wrt");
    const Matrix h = m.model.hessian(m.values, names);
    const HessianSummary s = summarize_hessian(h);
    const std::vector<NpyOutput> files{{"H", "the Hessian H", &h}};
    const std::vector<std::string> written = plan_npy_files(outputs, o.out, files);
    write_npy_files(outputs, o.out, files);
    outputs.commit();
    std::string over;
    for (const std::string& name : names) over += (over.empty() ? "" : ", ") + name;
    const char* verdict = s.min_eigenvalue > 0 ? "positive definite: convex here"
                          : s.max_eigenvalue < 0 ? "negative definite: concave here"
                                                 : "not positive definite: not convex here";
    char head[512];
    std::snprintf(head, sizeof head,
                  "H of %s over %s: %zux%zu, symmetry error %.3g, eigenvalues %.6g to %.6g (%s)",
                  m.model.output().c_str(), over.c_str(), s.size, s.size, s.symmetry_error, s.min_eigenvalue,
                  s.max_eigenvalue, verdict);
    print_written(o.format == "json",
                  {{"output", m.model.output()}, {"wrt", names}, {"size", s.size},
                   {"symmetry_error", s.symmetry_error}, {"min_eigenvalue", s.min_eigenvalue},
                   {"max_eigenvalue", s.max_eigenvalue}},
                  head, o.out, written);
    return 0;
}

}  // namespace

void add_hessian_command(CLI::App& app, int& status) {
    CLI::App* cmd = app.add_subcommand("hessian", "The exact Hessian of a model file's output over its params");
    cmd->footer(
        "Reads MODEL (*.mg) and its values as `matgrad grad MODEL` does (--inputs, --dim, --seed, --output)\n"
        "and writes H.npy (float64, n x n) to --out: the second derivatives of the output over the params\n"
        "in declaration order, each flattened row-major -- or over the --wrt params, in the order given.\n"
        "Exact (forward-over-reverse from each op's definition), not finite differences. Prints its size,\n"
        "its symmetry error max|H - H'| / max|H| and its extreme eigenvalues: all positive means the\n"
        "model is convex at these values. More than 10000 params (an 800 MB H.npy) are refused: pick\n"
        "fewer with --wrt.\n\n"
        "Example:\n"
        "  matgrad hessian examples/models/l2_logistic.mg --inputs examples/models/l2_logistic --seed 1 --out hess");
    auto o = std::make_shared<HessianOptions>();
    add_model_options(*cmd, o->model);
    cmd->get_option("MODEL")->required();
    cmd->add_option("--wrt", o->wrt, "Params to differentiate over, in this order (default: all, as declared)");
    cmd->add_option("--out", o->out, "Directory to write H.npy into")->required();
    cmd->add_option("--format", o->format, "Summary on stdout: text, or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    cmd->callback([o, &status] { status = run_hessian(*o); });
}

}  // namespace matgrad::cli
