// `matgrad graph`: the recorded graph of the network as Graphviz DOT (Tape::to_dot).
#include "commands.hpp"
#include "model_input.hpp"

#include <autodiff/inspect.hpp>
#include <nn/io.hpp>

#include <iostream>
#include <memory>

namespace matgrad::cli {

namespace {

struct GraphOptions {
    nn::MlpSource source;
    ModelOptions model;
    std::string dot_file;
    bool gradient_norms = false;
    bool trace = false;
};

int run_graph(const GraphOptions& o) {
    Tape tape;
    tape.set_timing(o.trace);
    io::OutputSet outputs;
    if (o.model.model.empty()) {
        tape.backward(nn::record_mlp_loss(tape, nn::load_mlp_problem(o.source)));
        add_mlp_inputs(outputs, o.source);
    } else {
        const LoadedModel m = load_model(o.model, &outputs);
        tape.backward(m.model.record(tape, m.values).output());
    }
    DotOptions dot;
    dot.gradient_norms = o.gradient_norms;
    if (o.dot_file.empty()) {
        std::cout << tape.to_dot(dot);
    } else {
        outputs.plan(o.dot_file, "the --dot file");
        outputs.write(o.dot_file, tape.to_dot(dot));
        outputs.commit();
        std::size_t edges = 0;
        for (std::size_t k = 0; k < tape.size(); ++k) edges += tape.node(k).num_inputs();
        std::cout << "wrote " << o.dot_file << ": " << tape.size() << " nodes, " << edges
                  << " edges (render with: dot -Tsvg " << o.dot_file << " -o graph.svg)\n";
    }
    if (o.trace) print_trace(tape, o.dot_file.empty() ? std::cerr : std::cout);  // stdout stays valid DOT
    return 0;
}

}  // namespace

void add_graph_command(CLI::App& app, int& status) {
    auto options = std::make_shared<GraphOptions>();
    CLI::App* cmd = app.add_subcommand("graph", "Write the recorded graph of the network or a model file as Graphviz DOT");
    cmd->footer(
        "One node per tape node with its name, op and shape (variables and constants drawn as boxes),\n"
        "one edge per input, numbered where operand order matters. Without --dot the DOT goes to stdout.\n\n"
        "Examples:\n"
        "  matgrad graph --dot slides.dot && dot -Tsvg slides.dot -o slides.svg\n"
        "  matgrad graph --sizes 10,32,16,1 --grad-norms --dot deep.dot\n"
        "  matgrad graph examples/models/slides.mg --inputs examples/models/slides --seed 1 --dot slides.dot");
    add_network_options(*cmd, options->source);
    cmd->add_option("--dot", options->dot_file, "Write the DOT to this file (atomically) instead of stdout");
    cmd->add_flag("--grad-norms", options->gradient_norms, "Label every node with its gradient's norm");
    cmd->add_flag("--trace", options->trace, "Also print Tape::trace(): one row per node (on stderr without --dot)");
    add_model_options(*cmd, options->model, &options->source.seed);
    cmd->callback([options, &status] { status = run_graph(*options); });
}

}  // namespace matgrad::cli
