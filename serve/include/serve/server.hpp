// `matgrad serve`: the page (serve/page/) and the JSON API (api.hpp) over HTTP with cpp-httplib
// (Debian's libcpp-httplib-dev), KaTeX served from Debian's libjs-katex -- the page asks nothing of
// any other host.
#pragma once

#include <serve/api.hpp>

#include <ostream>
#include <string>

namespace matgrad::serve {

struct ServerOptions {
    std::string host = "127.0.0.1";  ///< the address to listen on
    int port = 8080;                 ///< 0: any free port (printed)
    bool open = false;               ///< open the page in a browser (xdg-open)
    Limits limits;                   ///< per request
    int threads = 16;                ///< requests served at once (more wait in a queue)
};

/// Whether this build has the HTTP server (cpp-httplib was found at configure time).
bool server_available();

/// Serves until SIGINT or SIGTERM; prints "matgrad serve: http://HOST:PORT/" to `out` once
/// listening. Returns 0 after a clean stop; throws std::runtime_error when it cannot listen or
/// without cpp-httplib.
int run_server(const ServerOptions& options, std::ostream& out);

}  // namespace matgrad::serve
