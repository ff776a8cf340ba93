// `matgrad fit MODEL`: minimizes a model file's output over its params with nn's optimizers, so a
// text model is also trainable. Progress on stderr; Ctrl-C stops after the current step and still
// writes the params reached; every output is written atomically, and only at the end.
#include "commands.hpp"
#include "interrupt.hpp"
#include "model_input.hpp"
#include "progress.hpp"
#include "svg_plot.hpp"

#include <nn/io.hpp>
#include <nn/newton.hpp>
#include <nn/optim.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

namespace matgrad::cli {
namespace {

namespace fs = std::filesystem;

std::string format_number(double x) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", x);
    return text;
}

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


    const auto total = static_cast<std::size_t>(o.steps);
    const std::size_t report_every = std::max<std::size_t>(1, total / 20);
    std::vector<double> losses;
    std::vector<const Matrix*> grads(names.size());
    std::string how = o.optimizer + ", lr " + format_number(o.lr);
    std::size_t newton_steps = 0;
    Tape tape;
    const InterruptGuard interrupt_guard;
    const auto start = std::chrono::steady_clock::now();
    if (o.optimizer == "newton") {
        nn::NewtonOptions options;
        options.max_steps = total;
        const nn::NewtonResult r = nn::newton_minimize(
            m.model.loss(m.values), params, options,
            [&](const nn::NewtonStep& s) {
                losses.push_back(s.loss);
                newton_steps += s.step_size > 0;
                if (!quiet())
                    std::fprintf(stderr, "step %zu  %s %.12g  |gradient| %.3g  damping %.3g  step size %g\n", s.step,
                                 m.model.output().c_str(), s.loss, s.gradient_norm, s.damping, s.step_size);
            },
            [] { return interrupt_requested != 0; });
        how = "newton, gradient norm " + format_number(r.history.empty() ? 0.0 : r.history.back().gradient_norm) +
              (r.converged ? " <= 1e-08" : " (not converged)");
    }
    std::unique_ptr<nn::Optimizer> optimizer;
    if (o.optimizer == "sgd")
        optimizer = std::make_unique<nn::SGD>(o.lr);
    else if (o.optimizer == "adam")
        optimizer = std::make_unique<nn::Adam>(o.lr);
    for (std::size_t step = 1; optimizer && step <= total && !interrupt_requested; ++step) {
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
    std::printf("%s %.6g -> %.6g in %zu steps (%s, %.2f s)%s\n", m.model.output().c_str(), losses.front(),
                final_J, o.optimizer == "newton" ? newton_steps : losses.size(), how.c_str(), seconds,
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
        "--optimizer newton takes exact Newton steps (the model's Hessian, forward-over-reverse) with a\n"
        "backtracking line search, damped (Levenberg-Marquardt) where the Hessian is not positive\n"
        "definite, and stops once the gradient norm is <= 1e-8 (at most --steps steps; --lr unused). It\n"
        "is refused above 2000 params: each step builds and factors the dense Hessian.\n\n"
        "Example:\n"
        "  matgrad fit examples/models/l2_logistic.mg --inputs examples/models/l2_logistic --seed 1 \\\n"
        "      --steps 500 --out fitted --plot fit.svg\n"
        "  matgrad fit examples/models/l2_logistic.mg --inputs examples/models/l2_logistic --seed 1 \\\n"
        "      --optimizer newton --steps 20");
    auto o = std::make_shared<FitOptions>();
    add_model_options(*cmd, o->model);
    cmd->get_option("MODEL")->required();
    cmd->add_option("--optimizer", o->optimizer, "adam, sgd or newton")
        ->check(CLI::IsMember({"adam", "sgd", "newton"}))
        ->capture_default_str();
    cmd->add_option("--lr", o->lr, "Learning rate")->capture_default_str();
    cmd->add_option("--steps", o->steps, "Optimizer steps")->capture_default_str();
    cmd->add_option("--out", o->out, "Directory to write the fitted params into (NAME.npy)");
    cmd->add_option("--plot", o->plot, "SVG plot of the output per step");
    cmd->callback([o, &status] { status = run_fit(*o); });
}

}  // namespace matgrad::cli
