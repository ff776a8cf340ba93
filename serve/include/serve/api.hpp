// The JSON API of `matgrad serve`: one request body in, one response out, without any HTTP -- so
// the server, the tests and the fuzzer call the same function.
//
//     POST /api/explain  {"model": "...", "seed": 1, "dims": {"n": 7}, "format": "json", "check": false}
//     POST /api/verify   {"model": "...", "hand": "...", "seed": 1, "dims": {...}, "tol": 1e-8}
//     POST /api/derive   {"model": "...", "seed": 1, "dims": {...}}
//     POST /api/grad     {"model": "...", "seed": 1, "dims": {...}}
//
// Each answers what `matgrad explain|verify|derive|grad model.mg --seed S --dim ... --format json`
// prints (report/model_documents.hpp computes both), the model named model.mg and the derivation
// hand.mg. Errors are {"error": {"message", "line", "column", "file"}} (line and column null when
// not about a place in the model or derivation). See the README's "matgrad serve" for the details.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace matgrad::serve {

/// What one request may ask for; over a limit is an error response, never a crash or a hang.
struct Limits {
    std::size_t max_body_bytes = 1 << 20;   ///< a larger body: 413
    std::size_t max_nesting = 32;           ///< JSON nested deeper: 400
    std::size_t max_elements = 10'000'000;  ///< the model's values together, and any one matrix: 422
    double time_limit_seconds = 10.0;       ///< the computation stops at its first op past it: 422
};

/// An HTTP status and a JSON body.
struct Response {
    int status = 200;
    std::string body;
};

/// Answers POST /api/<endpoint> (explain, verify, derive or grad; another is 404) with `body`.
/// Never throws.
Response handle_api(std::string_view endpoint, std::string_view body, const Limits& limits = {});

/// {"error": {"message": message, "line": null, "column": null, "file": null}}.
std::string error_json(const std::string& message);

}  // namespace matgrad::serve
