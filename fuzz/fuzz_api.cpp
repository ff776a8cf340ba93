// libFuzzer target: the JSON API of `matgrad serve` (serve::handle_api, everything behind an HTTP
// request) on arbitrary bytes: the first byte picks the endpoint, the rest is the body. It must
// answer -- a JSON body with a status from the documented set -- never crash, hang or throw.
// Small limits keep each input fast; bodies asking for the HTML formats are skipped (they run
// Graphviz's dot as a process, thousands of times a second otherwise).
#include <serve/api.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static const char* const kEndpoints[] = {"explain", "verify", "derive", "grad", "nothing"};
    const std::string_view endpoint = kEndpoints[data[0] % 5];
    const std::string_view body{reinterpret_cast<const char*>(data) + 1, size - 1};
    if (body.find("html") != std::string_view::npos) return 0;
    matgrad::serve::Limits limits;
    limits.max_body_bytes = 4096;
    limits.max_elements = 4096;
    limits.time_limit_seconds = 0.2;
    const matgrad::serve::Response r = matgrad::serve::handle_api(endpoint, body, limits);
    if (r.status != 200 && r.status != 400 && r.status != 404 && r.status != 413 && r.status != 422) std::abort();
    const nlohmann::json answer = nlohmann::json::parse(r.body, nullptr, false);
    if (answer.is_discarded() || !answer.is_object()) std::abort();
    if (r.status != 200 && !answer.contains("error")) std::abort();
    return 0;
}
