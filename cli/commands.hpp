// The subcommands of `matgrad`. Each lives in its own cmd_<name>.cpp and registers itself on the
// app. A command's callback stores the exit status in `status` (0 success, 1 a check failed); bad
// usage or bad input throws (CLI::ParseError or any std::exception), which main() turns into one
// line on stderr and exit status 2.
#pragma once

#include <CLI/CLI.hpp>
#include <nn/io.hpp>
#include <nn/verify.hpp>
#include <report/model_documents.hpp>
#include <report/render.hpp>

#include <string>
#include <vector>

namespace matgrad::cli {

void add_seed_command(CLI::App& app, int& status);
void add_grad_command(CLI::App& app, int& status);
void add_train_command(CLI::App& app, int& status);
void add_predict_command(CLI::App& app, int& status);
void add_verify_command(CLI::App& app, int& status);
void add_explain_command(CLI::App& app, int& status);
void add_graph_command(CLI::App& app, int& status);
void add_fit_command(CLI::App& app, int& status);
void add_derive_command(CLI::App& app, int& status);
void add_hessian_command(CLI::App& app, int& status);
void add_serve_command(CLI::App& app, int& status);
// Shared by explain and graph (defined in cmd_explain.cpp): --data/--params or --sizes/--samples/--seed,
// and the trace of a tape recorded with timing on.
void add_network_options(CLI::App& cmd, nn::MlpSource& source);
/// Every --seed's check (defined in cmd_explain.cpp): a whole number from 0 to 2^64 - 1, written as
/// such -- CLI11 alone would wrap -1 and saturate 99999999999999999999 to 2^64 - 1.
extern const CLI::Validator seed_number;
void print_trace(const Tape& tape, std::ostream& to = std::cout);

// Shared by explain and verify (defined in cmd_explain.cpp): --format text|latex|json|html and
// --out FILE ("-" or none: stdout); the network's explanation as a document (title, DOT graph);
// and writing a rendered document (atomically, when it goes to a file).
struct DocumentOptions {
    std::string format = "text";
    std::string out = "-";
};
void add_document_options(CLI::App& cmd, DocumentOptions& options);
using NetworkExplanation = report::Explanation;
NetworkExplanation explain_network(const nn::MlpSource& source, const nn::MlpProblem& problem, bool check);
/// Prints the document, or with a file `out` plans it in `outputs` (refusing an input's path),
/// writes it and commits.
void write_document(io::OutputSet& outputs, const std::string& out, const std::string& text);

}  // namespace matgrad::cli
