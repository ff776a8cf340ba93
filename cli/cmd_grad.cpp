// `matgrad grad`: J and dW1, db1, ..., dWL, dbL of the slides' loss for your own data and
// parameters, from and to .npy files. Everything is read, validated and computed before the first
// file is written, and each file is written atomically.
#include "commands.hpp"

#include <nn/io.hpp>
#include <nn/layers.hpp>
#include <nn/losses.hpp>
#include <nn/verify.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace matgrad::cli {
namespace {

namespace fs = std::filesystem;

struct GradOptions {
    std::string data, params, out;
    std::string format = "text";
};

std::string in_dir(const std::string& dir, const std::string& file) { return (fs::path(dir) / file).string(); }

int run_grad(const GradOptions& o) {
    if (fs::exists(o.out) && !fs::is_directory(o.out))
        throw io::InputError(o.out + ": exists and is not a directory (--out)");
    nn::MlpSource source;
    source.data_dir = o.data;
    source.params_dir = o.params;
    const nn::MlpProblem problem = nn::load_mlp_problem(source);  // validates files, shapes and labels

    // The slides' loss, mean BCE of sigmoid outputs, as the stable op from logits: the same value
    // and gradient wherever the composed form is finite, and finite for saturated units too.
    nn::MLP model(problem.W, problem.b);
    Tape tape;
    const Var J = nn::binary_cross_entropy_with_logits(model.logits(tape.constant(problem.X, "X")),
                                                       tape.constant(problem.Y, "Y"));
    tape.backward(J);

    fs::create_directories(o.out);
    io::write_npy(in_dir(o.out, "J.npy"), J.value());
    for (std::size_t l = 1; l <= model.depth(); ++l) {
        io::write_npy(in_dir(o.out, "dW" + std::to_string(l) + ".npy"), model.layer(l).grad_W());
        io::write_npy(in_dir(o.out, "db" + std::to_string(l) + ".npy"), model.layer(l).grad_b());
    }
    if (o.format == "json") {
        nlohmann::ordered_json files = nlohmann::ordered_json::array({"J.npy"});
        for (std::size_t l = 1; l <= model.depth(); ++l)
            for (const char* p : {"dW", "db"}) files.push_back(p + std::to_string(l) + ".npy");
        const nlohmann::ordered_json summary{{"J", J.value()(0, 0)},      {"layers", model.depth()},
                                             {"samples", problem.X.shape(1)}, {"out", o.out},
                                             {"files", files}};
        std::printf("%s\n", summary.dump(2).c_str());
        return 0;
    }
    std::printf("J = %.17g (%zu-layer sigmoid MLP, %zu samples); wrote J.npy and dW1.npy, db1.npy .. dW%zu.npy, "
                "db%zu.npy to %s\n",
                J.value()(0, 0), model.depth(), problem.X.shape(1), model.depth(), model.depth(), o.out.c_str());
    return 0;
}

}  // namespace

void add_grad_command(CLI::App& app, int& status) {
    CLI::App* cmd = app.add_subcommand("grad", "Gradients of the slides' loss for your own data and parameters");
    cmd->footer(
        "Reads X.npy (d x n, one sample per column) and Y.npy (1 x n, labels 0/1) from --data, and\n"
        "W1.npy, b1.npy, ..., WL.npy, bL.npy from --params (any depth L >= 1; Wl is out x in, bl is\n"
        "out x 1). The network is the slides' one: Z[l] = W[l] A[l-1] + b[l], A[l] = sigmoid(Z[l]) on\n"
        "every layer, J = mean binary cross-entropy of A[L] against Y. Writes J.npy (1x1) and dW1.npy,\n"
        "db1.npy, ..., dWL.npy, dbL.npy (float64) to --out, creating it if missing. Inputs are all\n"
        "checked before anything is written: a missing file, shapes that do not chain or labels that\n"
        "are not 0/1 give one line on stderr and exit status 2.\n\n"
        "Example:\n"
        "  matgrad grad --data mydata --params myparams --out grads\n"
        "  python3 -c \"import numpy; print(numpy.load('grads/dW1.npy'))\"");
    auto o = std::make_shared<GradOptions>();
    cmd->add_option("--data", o->data, "Directory with X.npy and Y.npy")->required();
    cmd->add_option("--params", o->params, "Directory with W1.npy, b1.npy, ..., WL.npy, bL.npy")->required();
    cmd->add_option("--out", o->out, "Directory to write J.npy, dW1.npy, db1.npy, ... into")->required();
    cmd->add_option("--format", o->format, "Summary on stdout: text, or json (J, layers, samples, out, files)")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    cmd->callback([o, &status] { status = run_grad(*o); });
}

}  // namespace matgrad::cli
