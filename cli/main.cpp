#include "commands.hpp"

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
    CLI::App app{"matgrad: reverse-mode autodiff for matrix programs, and the slides' MLP on it"};
    app.require_subcommand(1);
    int status = 0;
    // one line per command, e.g.: matgrad::cli::add_seed_command(app, status);
    matgrad::cli::add_seed_command(app, status);
    matgrad::cli::add_grad_command(app, status);
    matgrad::cli::add_train_command(app, status);
    matgrad::cli::add_predict_command(app, status);
    matgrad::cli::add_verify_command(app, status);
    matgrad::cli::add_explain_command(app, status);
    matgrad::cli::add_graph_command(app, status);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help
        std::cerr << "matgrad: " << e.what() << " (run with --help for usage)\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "matgrad: error: " << e.what() << "\n";
        return 2;
    }
    return status;
}
