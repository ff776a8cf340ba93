// `matgrad serve`: the local page and JSON API (serve/: matgrad::serve).
#include "commands.hpp"

#include <serve/server.hpp>

#include <iostream>
#include <memory>

namespace matgrad::cli {

void add_serve_command(CLI::App& app, int& status) {
    auto options = std::make_shared<serve::ServerOptions>();
    CLI::App* cmd = app.add_subcommand("serve", "A local web page (and JSON API) to write a model and a derivation and see them checked");
    cmd->footer(
        "Serves one page -- the model and your derivation in editors, the typeset derivation, the graph and\n"
        "the verdicts, re-evaluated as you type, the state in the URL fragment (a link reproduces it) -- and\n"
        "POST /api/explain, /api/verify, /api/derive, /api/grad, which answer what the CLI's --format json\n"
        "gives (see the README). Limits per request: a body over 1 MB is refused (413); a model whose values\n"
        "would exceed 10^7 elements, or any matrix that would, is refused before it is allocated (422); the\n"
        "computation stops at its first op past --time-limit (422). Errors are {\"error\": {\"message\", \"line\",\n"
        "\"column\", \"file\"}}, status 400 for a mistake in the request, the model or the derivation.\n"
        "Binds 127.0.0.1 unless --host says otherwise; Ctrl-C (SIGINT or SIGTERM) stops it.\n\n"
        "Examples:\n"
        "  matgrad serve                    # then open http://127.0.0.1:8080/\n"
        "  matgrad serve --port 0           # any free port; the URL is printed\n"
        "  curl -d '{\"model\": \"param w : 2 x 1\\nJ = sum(w .* w)\"}' http://127.0.0.1:8080/api/grad");
    cmd->add_option("--port", options->port, "Port to listen on (0: any free one, printed)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    cmd->add_option("--host", options->host, "Address to listen on (0.0.0.0: every interface -- anyone who can reach it may use it)")
        ->capture_default_str();
    cmd->add_flag("--open", options->open, "Open the page in the default browser (xdg-open)");
    cmd->add_option("--time-limit", options->limits.time_limit_seconds, "Seconds one request may compute")
        ->check(CLI::Range(0.01, 3600.0))
        ->capture_default_str();
    cmd->callback([options, &status] {
        if (!serve::server_available()) {
            std::cerr << "matgrad serve: this build has no HTTP server; install cpp-httplib and pkg-config (apt-get "
                         "install libcpp-httplib-dev pkg-config), then configure and build again\n";
            status = 2;
            return;
        }
        status = serve::run_server(*options, std::cout);
    });
}

}  // namespace matgrad::cli
