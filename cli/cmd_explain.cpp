// `matgrad explain`: the slides' network (or yours, from .npy files) read back from the recorded
// tape as named matrix equations with every shape, forward and backward (matgrad::explain).
#include "commands.hpp"
#include "model_input.hpp"

#include <autodiff/inspect.hpp>
#include <nn/io.hpp>
#include <nn/reference.hpp>
#include <report/render.hpp>

#include <cmath>
#include <iostream>
#include <memory>

namespace matgrad::cli {

const CLI::Validator seed_number(
    [](std::string& text) -> std::string {
        std::size_t used = 0;
        try {
            if (!text.empty() && text[0] >= '0' && text[0] <= '9') std::stoull(text, &used);
        } catch (const std::out_of_range&) {
            used = 0;
        }
        return used != 0 && used == text.size()
                   ? ""
                   : "'" + text + "' is not a seed: give a whole number from 0 to 18446744073709551615";
    },
    "SEED");

void add_network_options(CLI::App& cmd, nn::MlpSource& source) {
    CLI::Option* data = cmd.add_option("--data", source.data_dir, "Directory with X.npy and Y.npy (as for grad)");
    CLI::Option* params = cmd.add_option("--params", source.params_dir, "Directory with W1.npy, b1.npy, ... (as for grad)");
    CLI::Option* sizes = cmd.add_option("--sizes", source.sizes, "Layer sizes of a random network: inputs,hidden...,outputs")
                             ->delimiter(',')
                             ->capture_default_str();
    CLI::Option* samples = cmd.add_option("--samples", source.samples, "Samples (columns of X) of a random network")
                               ->check(CLI::Validator(
                                   [](std::string& text) -> std::string {
                                       return text.find_first_not_of("0123456789") == std::string::npos &&
                                                      text.find_first_not_of('0') != std::string::npos
                                                  ? ""
                                                  : "'" + text + "' is not a number of samples: give a whole number of at least 1";
                                   },
                                   "N"))
                               ->capture_default_str();
    CLI::Option* seed =
        cmd.add_option("--seed", source.seed, "Seed of the random network")->check(seed_number)->capture_default_str();
    data->needs(params);
    params->needs(data);
    for (CLI::Option* random : {sizes, samples, seed}) data->excludes(random);
}

void print_trace(const Tape& tape, std::ostream& to) {
    to << "\nTrace (one row per tape node; times in microseconds)\n" << tape.trace();
}

void add_document_options(CLI::App& cmd, DocumentOptions& options) {
    cmd.add_option("--format", options.format, "Output format: text, latex, json or html (one self-contained page)")
        ->check(CLI::IsMember({"text", "latex", "json", "html"}))
        ->capture_default_str();
    cmd.add_option("--out", options.out, "Write the document to this file instead of stdout ('-': stdout)")
        ->capture_default_str();
}

NetworkExplanation explain_network(const nn::MlpSource& source, const nn::MlpProblem& problem, bool check) {
    std::string sizes = std::to_string(problem.X.shape(0));
    for (const Matrix& W : problem.W) sizes += "-" + std::to_string(W.shape(0));
    NetworkExplanation e;
    e.doc.title = "The " + sizes + " network (sigmoid on every layer, mean binary cross-entropy) on " +
                  std::to_string(problem.X.shape(1)) + " samples as columns, " +
                  (source.data_dir.empty() ? "seeded random values (seed " + std::to_string(source.seed) + ")"
                                           : "your .npy files") + ".";
    e.doc.description = "Every equation and shape below is read from the recorded tape.";
    e.lines = explain(nn::mlp_loss(problem.X, problem.Y), nn::mlp_parameters(problem),
                      nn::mlp_parameter_names(problem.depth()), check);
    // record_mlp_loss records the same nodes in the same order as explain's fresh tape (variables,
    // then mlp_loss), so DOT node n<k> is ExplainLine::node k.
    Tape tape;
    tape.backward(nn::record_mlp_loss(tape, problem));
    e.doc.dot = tape.to_dot();
    return e;
}

void write_document(io::OutputSet& outputs, const std::string& out, const std::string& text) {
    if (out.empty() || out == "-") {
        std::cout << text << std::flush;
        return;
    }
    outputs.plan(out, "the --out document");
    outputs.write(out, text);
    outputs.commit();
}

namespace {

struct ExplainOptions {
    nn::MlpSource source;
    ModelOptions model;
    DocumentOptions document;
    bool check = false;
    bool trace = false;
};

// Central differences with a 1e-6 step on gradients of size ~0.1 agree to ~1e-9; 1e-6 is a failure.
constexpr double kFiniteDifferenceTolerance = 1e-6;

int run_explain(const ExplainOptions& o) {
    const report::Format format = report::parse_format(o.document.format);
    if (o.trace && format != report::Format::text)
        throw CLI::ValidationError("--trace", "prints a text table; use it with --format text");
    NetworkExplanation e;
    Tape traced;  // --trace: the same recording again, timed
    traced.set_timing(true);
    io::OutputSet outputs;
    if (o.model.model.empty()) {
        const nn::MlpProblem problem = nn::load_mlp_problem(o.source);
        add_mlp_inputs(outputs, o.source);
        e = explain_network(o.source, problem, o.check);
        if (o.trace) traced.backward(nn::record_mlp_loss(traced, problem));
    } else {
        const LoadedModel m = load_model(o.model, &outputs);
        e = report::explain_model(m, o.check);
        if (o.trace) traced.backward(m.model.record(traced, m.values).output());
    }
    write_document(outputs, o.document.out, report::render_explanation(e.lines, format, e.doc));
    if (!o.document.out.empty() && o.document.out != "-")  // as grad does: say what was written
        std::cout << "wrote " << o.document.out << " (" << o.document.format << ", " << e.lines.size() << " lines)\n";
    if (o.trace) print_trace(traced);
    for (const ExplainLine& line : e.lines)
        if (!std::isnan(line.fd_error) && !(line.fd_error <= kFiniteDifferenceTolerance)) return 1;
    return 0;
}

}  // namespace

void add_explain_command(CLI::App& app, int& status) {
    auto options = std::make_shared<ExplainOptions>();
    CLI::App* cmd = app.add_subcommand("explain", "Print the network's forward and backward pass as equations with shapes");
    cmd->footer(
        "Without arguments: the slides' 10-64-1 network on 7 samples (seeded random values); with MODEL, a\n"
        "model file (*.mg) on its values as for `matgrad grad MODEL`. Every equation\n"
        "and shape is derived from the recorded tape, for any depth; gradient lines follow the slides' order\n"
        "and note the layout step behind each matrix product.\n"
        "--check appends the max difference to central finite differences to each dW/db line (exit 1 if any\n"
        "exceeds 1e-6); --trace prints the tape node by node with values, gradient norms and times.\n"
        "--format latex gives one aligned block per section (for a paper or a Jupyter Markdown cell), json\n"
        "the structured lines, html one offline page with typeset equations and the graph.\n\n"
        "Examples:\n"
        "  matgrad explain\n"
        "  matgrad explain --sizes 10,32,16,1 --samples 5 --check\n"
        "  matgrad explain --data data/ --params params/ --trace\n"
        "  matgrad explain --format html --out explain.html\n"
        "  matgrad explain examples/models/slides.mg --inputs examples/models/slides --seed 1 --check");
    add_network_options(*cmd, options->source);
    add_document_options(*cmd, options->document);
    cmd->add_flag("--check", options->check, "Compare each parameter gradient with central finite differences");
    cmd->add_flag("--trace", options->trace, "Also print Tape::trace(): one row per node");
    add_model_options(*cmd, options->model, &options->source.seed);
    cmd->callback([options, &status] { status = run_explain(*options); });
}

}  // namespace matgrad::cli
