#include "commands.hpp"
#include "progress.hpp"

#include <matgrad_version.hpp>

#include <lang/model.hpp>
#include <nn/losses.hpp>

#include <exception>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    matgrad::nn::register_losses();  // model files may call softmax_cross_entropy, mse, ... by name
    // Named explicitly: CLI11 would otherwise put argv[0] (e.g. ./build/cli/matgrad) in usage lines.
    CLI::App app{"matgrad: reverse-mode autodiff for matrix programs, and the slides' MLP on it", "matgrad"};
    app.require_subcommand(1);
    app.footer("Examples:\n"
               "  matgrad seed                     # the slides' network, every gradient checked three ways\n"
               "  matgrad verify examples/models/slides.mg --seed 1 --hand examples/derivations/slides.mg\n"
               "  matgrad serve                    # a page at http://127.0.0.1:8080/: model, derivation, verdicts as you type\n"
               "Run matgrad COMMAND --help for a command's options.");
    app.fallthrough();  // global flags (--quiet) also work after the command's name
    app.set_version_flag("--version", std::string("matgrad ") + MATGRAD_VERSION, "Print the version and exit");
    app.add_flag_callback("-q,--quiet", [] { matgrad::cli::set_quiet(true); }, "No progress output on stderr");
    int status = 0;
    matgrad::cli::add_seed_command(app, status);
    matgrad::cli::add_grad_command(app, status);
    matgrad::cli::add_train_command(app, status);
    matgrad::cli::add_predict_command(app, status);
    matgrad::cli::add_verify_command(app, status);
    matgrad::cli::add_explain_command(app, status);
    matgrad::cli::add_graph_command(app, status);
    matgrad::cli::add_fit_command(app, status);
    matgrad::cli::add_derive_command(app, status);
    matgrad::cli::add_hessian_command(app, status);
    matgrad::cli::add_serve_command(app, status);
    app.add_subcommand("version", "Print the version")->callback([] { std::cout << "matgrad " << MATGRAD_VERSION << "\n"; });

    // CLI11 would only say "A subcommand is required" for a mistyped command: name it instead.
    if (argc > 1 && argv[1][0] != '-') {
        std::string known;
        bool found = false;
        for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
            found = found || sub->check_name(argv[1]);
            known += (known.empty() ? "" : ", ") + sub->get_name();
        }
        if (!found) {
            std::cerr << "matgrad: unknown command '" << argv[1] << "' (commands: " << known << ")\n";
            return 2;
        }
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        std::cerr << "matgrad: " << e.what() << " (run with --help for usage)\n";
        return 2;
    } catch (const matgrad::lang::Error& e) {  // FILE:LINE:COL: error: ..., the line, a caret
        std::cerr << e.formatted() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "matgrad: error: " << e.what() << "\n";
        return 2;
    }
    return status;
}
