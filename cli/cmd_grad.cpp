// `matgrad grad`: J and dW1, db1, ..., dWL, dbL of the slides' loss for your own data and
// parameters, from and to .npy files. Everything is read, validated and computed before the first
// file is written, and the files are renamed into place together (io::OutputSet).
#include "commands.hpp"
#include "model_input.hpp"

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
    ModelOptions model;
    bool all = false;
    std::string format = "text";
    std::string save_values;
};

int run_grad(const GradOptions& o) {
    if (fs::exists(o.out) && !fs::is_directory(o.out))
        throw io::InputError(o.out + ": exists and is not a directory (--out)");
    nn::MlpSource source;
    source.data_dir = o.data;
    source.params_dir = o.params;
    const nn::MlpProblem problem = nn::load_mlp_problem(source);  // validates files, shapes and labels
    io::OutputSet outputs;
    add_mlp_inputs(outputs, source);

    // The slides' loss, mean BCE of sigmoid outputs, as the stable op from logits: the same value
    // and gradient wherever the composed form is finite, and finite for saturated units too.
    nn::MLP model(problem.W, problem.b);
    Tape tape;
    const Var J = nn::binary_cross_entropy_with_logits(model.logits(tape.constant(problem.X, "X")),
                                                       tape.constant(problem.Y, "Y"));
    tape.backward(J);

    std::vector<NpyOutput> files{{"J", "the loss J", &J.value()}};
    for (std::size_t l = 1; l <= model.depth(); ++l) {
        const std::string W = "W" + std::to_string(l), b = "b" + std::to_string(l);
        files.push_back({"d" + W, "the gradient of " + W, &model.layer(l).grad_W()});
        files.push_back({"d" + b, "the gradient of " + b, &model.layer(l).grad_b()});
    }
    const std::vector<std::string> written = plan_npy_files(outputs, o.out, files);
    write_npy_files(outputs, o.out, files);
    outputs.commit();
    char head[128];
    std::snprintf(head, sizeof head, "J = %.17g (%zu-layer sigmoid MLP, %zu samples)", J.value()(0, 0), model.depth(),
                  problem.X.shape(1));
    print_written(o.format == "json",
                  {{"J", J.value()(0, 0)}, {"layers", model.depth()}, {"samples", problem.X.shape(1)}}, head,
                  o.out, written);
    return 0;
}

}  // namespace

void add_grad_command(CLI::App& app, int& status) {
    CLI::App* cmd = app.add_subcommand("grad", "Gradients of a model file, or of the slides' loss, for your own values");
    cmd->footer(
        "Reads X.npy (d x n, one sample per column) and Y.npy (1 x n, labels 0/1) from --data, and\n"
        "W1.npy, b1.npy, ..., WL.npy, bL.npy from --params (any depth L >= 1; Wl is out x in, bl is\n"
        "out x 1). The network is the slides' one: Z[l] = W[l] A[l-1] + b[l], A[l] = sigmoid(Z[l]) on\n"
        "every layer, J = mean binary cross-entropy of A[L] against Y. Writes J.npy (1x1) and dW1.npy,\n"
        "db1.npy, ..., dWL.npy, dbL.npy (float64) to --out, creating it if missing. Inputs are all\n"
        "checked before anything is written: a missing file, shapes that do not chain or labels that\n"
        "are not 0/1 give one line on stderr and exit status 2.\n\n"
        "With a MODEL file (*.mg, see examples/models/) instead: reads NAME.npy from --inputs for every\n"
        "declared name (missing ones are drawn with --seed S: inputs U(0,1), params N(0, 1/columns)), and\n"
        "writes <output>.npy and d<param>.npy for every param (--all: also d<node>.npy for every named\n"
        "node). A mistake in the model is reported as FILE:LINE:COL with the line and a caret; exit 2.\n\n"
        "Examples:\n"
        "  matgrad grad --data mydata --params myparams --out grads\n"
        "  matgrad grad examples/models/slides.mg --inputs examples/models/slides --seed 1 --out grads\n"
        "  python3 -c \"import numpy; print(numpy.load('grads/dW1.npy'))\"");
    auto o = std::make_shared<GradOptions>();
    cmd->add_option("--data", o->data, "Directory with X.npy and Y.npy (the slides' MLP; not with MODEL)");
    cmd->add_option("--params", o->params, "Directory with W1.npy, b1.npy, ..., WL.npy, bL.npy (not with MODEL)");
    cmd->add_option("--out", o->out, "Directory to write J.npy, dW1.npy, db1.npy, ... into")->required();
    add_model_options(*cmd, o->model);
    cmd->add_flag("--all", o->all, "With MODEL: also write d<node>.npy for every named node");
    cmd->add_option("--save-values", o->save_values,
                    "With MODEL: also write NAME.npy of every declared name's value (those drawn with --seed too)");
    cmd->add_option("--format", o->format, "Summary on stdout: text, or json (the output's value, out, files, ...)")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    cmd->callback([o, &status] {
        if (o->model.model.empty() && (o->data.empty() || o->params.empty()))
            throw std::invalid_argument("grad: give a MODEL file, or --data and --params for the slides' MLP");
        if (!o->model.model.empty() && !(o->data.empty() && o->params.empty()))
            throw std::invalid_argument("grad: --data and --params are for the slides' MLP; with MODEL use --inputs");
        if (o->model.model.empty() && !o->save_values.empty())
            throw std::invalid_argument("grad: --save-values is for a MODEL file (the values --data and --params hold are yours)");
        status = o->model.model.empty() ? run_grad(*o)
                                        : run_model_grad(o->model, o->out, o->all, o->format == "json", o->save_values);
    });
}

}  // namespace matgrad::cli
