// `matgrad fit MODEL`: minimizes a model file's output over its params with nn's optimizers, so a
// text model is also trainable. Progress on stderr; Ctrl-C stops after the current step and still
// writes the params reached; every output is written atomically, and only at the end.
#include "commands.hpp"
#include "interrupt.hpp"
#include "model_input.hpp"
#include "progress.hpp"
#include "svg_plot.hpp"

#include <nn/io.hpp>
#include <nn/optim.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

namespace matgrad::cli {
namespace {

namespace fs = std::filesystem;

struct FitOptions {
    ModelOptions model;
    std::string optimizer = "adam", out, plot;
    double lr = 0.01;
    long long steps = 1000;
};

int run_fit(const FitOptions& o) {
    if (o.steps <= 0) throw std::invalid_argument("--steps must be a positive integer (got " + std::to_string(o.steps) + ")");
    if (!std::isfinite(o.lr) || o.lr <= 0) throw std::invalid_argument("--lr must be a positive number");
    if (!o.out.empty() && fs::exists(o.out) && !fs::is_directory(o.out))
        throw io::InputError(o.out + ": exists and is not a directory (--out)");
    io::OutputSet outputs;
    LoadedModel m = load_model(o.model, &outputs);
    const std::vector<std::string> names = m.model.param_names();
    if (names.empty()) throw std::invalid_argument(o.model.model + ": the model has no param to fit");
    std::vector<Matrix*> params;
    std::vector<NpyOutput> files;
    for (const std::string& name : names) {
        params.push_back(&m.values.at(name));
        files.push_back({name, "the fitted param " + name, params.back()});
    }
    // Every output is planned (and a bad one refused) before the steps, not after them.
    const std::string written = o.out.empty() ? "" : comma_list(plan_npy_files(outputs, o.out, files));
    if (!o.plot.empty()) outputs.plan(o.plot, "the --plot file");

    std::unique_ptr<nn::Optimizer> optimizer;
    if (o.optimizer == "sgd")
        optimizer = std::make_unique<nn::SGD>(o.lr);
    else
        optimizer = std::make_unique<nn::Adam>(o.lr);

    const auto total = static_cast<std::size_t>(o.steps);
    const std::size_t report_every = std::max<std::size_t>(1, total / 20);
    std::vector<double> losses;
    std::vector<const Matrix*> grads(names.size());
    Tape tape;
    const InterruptGuard interrupt_guard;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t step = 1; step <= total && !interrupt_requested; ++step) {
        tape.clear();
        const lang::Recording r = m.model.record(tape, m.values);
        tape.backward(r.output());
        const double J = r.output().value()(0, 0);
        if (!std::isfinite(J))
            throw std::runtime_error("fit diverged at step " + std::to_string(step) + " (" + m.model.output() +
                                     " is not finite); try a smaller --lr. Nothing was written");
        losses.push_back(J);
        for (std::size_t k = 0; k < names.size(); ++k) grads[k] = &r.var(names[k]).grad();
        optimizer->step(params, grads);
        if (!quiet() && (step == 1 || step % report_every == 0 || step == total))
            std::fprintf(stderr, "step %zu/%zu  %s %.6g\n", step, total, m.model.output().c_str(), J);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (losses.empty()) {
        std::fprintf(stderr, "matgrad fit: interrupted before the first step; nothing was written\n");
        return 130;
    }
    tape.clear();
    const double final_J = m.model.record(tape, m.values).output().value()(0, 0);  // after the last update
    const bool interrupted = interrupt_requested != 0;
    if (interrupted)
        std::fprintf(stderr, "matgrad fit: interrupted after %zu steps; writing the params reached\n", losses.size());

    if (!o.out.empty()) write_npy_files(outputs, o.out, files);
    if (!o.plot.empty())
        outputs.write(o.plot, line_chart_svg("matgrad fit: " + o.model.model, "step", m.model.output(),
                                             {{m.model.output(), "#1f77b4", losses}}));
    outputs.commit();
    std::printf("%s %.6g -> %.6g in %zu steps (%s, lr %g, %.2f s)%s\n", m.model.output().c_str(), losses.front(),
                final_J, losses.size(), o.optimizer.c_str(), o.lr, seconds,
                written.empty() ? "" : ("; wrote " + written + " to " + o.out).c_str());
    return interrupted ? 130 : 0;
}

}  // namespace

void add_fit_command(CLI::App& app, int& status) {
    CLI::App* cmd = app.add_subcommand("fit", "Minimize a model file's output over its params");
    cmd->footer(
        "Reads MODEL (*.mg) and its values as `matgrad grad MODEL` does (--inputs, --dim, --seed), then\n"
        "takes --steps optimizer steps on the params, recording the model afresh each step. Progress\n"
        "goes to stderr. Ctrl-C stops after the current step and still writes the params reached (exit\n"
        "status 130). --out gets NAME.npy per param, --plot the output per step as SVG; both are\n"
        "written atomically and only at the end.\n\n"
        "Example:\n"
        "  matgrad fit examples/models/l2_logistic.mg --inputs examples/models/l2_logistic --seed 1 \\\n"
        "      --steps 500 --out fitted --plot fit.svg");
    auto o = std::make_shared<FitOptions>();
    add_model_options(*cmd, o->model);
    cmd->get_option("MODEL")->required();
    cmd->add_option("--optimizer", o->optimizer, "adam or sgd")->check(CLI::IsMember({"adam", "sgd"}))->capture_default_str();
    cmd->add_option("--lr", o->lr, "Learning rate")->capture_default_str();
    cmd->add_option("--steps", o->steps, "Optimizer steps")->capture_default_str();
    cmd->add_option("--out", o->out, "Directory to write the fitted params into (NAME.npy)");
    cmd->add_option("--plot", o->plot, "SVG plot of the output per step");
    cmd->callback([o, &status] { status = run_fit(*o); });
}

}  // namespace matgrad::cli
