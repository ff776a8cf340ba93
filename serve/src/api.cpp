#include <serve/api.hpp>

#include <autodiff/limits.hpp>
#include <lang/model.hpp>
#include <report/model_documents.hpp>
#include <report/render.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <stdexcept>

namespace matgrad::serve {
namespace {

using Json = nlohmann::ordered_json;

// The names the model and the derivation have in messages and documents (as if given to the CLI
// as model.mg and hand.mg).
const char* const kModelFile = "model.mg";
const char* const kHandFile = "hand.mg";

/// A request refused: status, message, and the place in the model when it is about one.
struct RequestError : std::runtime_error {
    RequestError(int status, const std::string& message, std::size_t line = 0, std::size_t column = 0,
                 std::string file = "")
        : std::runtime_error(message), status(status), line(line), column(column), file(std::move(file)) {}
    int status;
    std::size_t line, column;
    std::string file;
};

Response error_response(int status, const std::string& message, std::size_t line = 0, std::size_t column = 0,
                        const std::string& file = "") {
    Json error{{"message", message},
               {"line", line > 0 ? Json(line) : Json(nullptr)},
               {"column", line > 0 ? Json(column) : Json(nullptr)},
               {"file", file.empty() ? Json(nullptr) : Json(file)}};
    return {status, Json{{"error", error}}.dump() + "\n"};
}

/// How deeply arrays and objects nest in `body` (strings skipped), stopping past `limit`: refused
/// before the parser sees it.
std::size_t nesting_depth(std::string_view body, std::size_t limit) {
    std::size_t depth = 0, deepest = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < body.size() && deepest <= limit; ++i) {
        const char c = body[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

/// The request's fields, checked.
struct Request {
    std::string model, hand, format = "json", output;
    bool has_hand = false, check = false;
    std::uint64_t seed = 1;
    std::map<std::string, std::size_t> dims;
    double tol = 1e-8;
};

Request read_request(std::string_view endpoint, const Json& body, const Limits& limits) {
    if (!body.is_object()) throw RequestError(400, "the body must be a JSON object such as {\"model\": \"...\"}");
    const std::set<std::string> allowed = endpoint == "verify"    ? std::set<std::string>{"model", "hand", "seed", "dims", "format", "tol", "output"}
                                          : endpoint == "explain" ? std::set<std::string>{"model", "seed", "dims", "format", "check", "output"}
                                                                  : std::set<std::string>{"model", "seed", "dims", "format", "output"};
    for (const auto& [key, value] : body.items())
        if (allowed.count(key) == 0) {
            std::string names;
            for (const std::string& a : allowed) names += (names.empty() ? "" : ", ") + a;
            throw RequestError(400, "unknown field '" + key + "' for /api/" + std::string(endpoint) + " (fields: " + names + ")");
        }
    auto string_field = [&](const char* key, std::string& into) {
        if (!body.contains(key)) return false;
        if (!body[key].is_string()) throw RequestError(400, std::string("'") + key + "' must be a string");
        into = body[key].get<std::string>();
        return true;
    };
    Request r;
    if (!string_field("model", r.model)) throw RequestError(400, "'model' is missing: give the model's text");
    r.has_hand = string_field("hand", r.hand);
    if (endpoint == "verify" && !r.has_hand) throw RequestError(400, "'hand' is missing: give your derivation's text");
    string_field("format", r.format);
    string_field("output", r.output);
    if (body.contains("seed")) {
        if (!body["seed"].is_number_unsigned())
            throw RequestError(400, "'seed' must be a whole number from 0 to 18446744073709551615");
        r.seed = body["seed"].get<std::uint64_t>();
    }
    if (body.contains("check")) {
        if (!body["check"].is_boolean()) throw RequestError(400, "'check' must be true or false");
        r.check = body["check"].get<bool>();
    }
    if (body.contains("tol")) {
        if (!body["tol"].is_number() || !(body["tol"].get<double>() > 0) || !std::isfinite(body["tol"].get<double>()))
            throw RequestError(400, "'tol' must be a positive number");
        r.tol = body["tol"].get<double>();
    }
    if (body.contains("dims")) {
        if (!body["dims"].is_object()) throw RequestError(400, "'dims' must be an object such as {\"n\": 7}");
        for (const auto& [name, size] : body["dims"].items()) {
            if (!size.is_number_unsigned() || size.get<std::uint64_t>() == 0)
                throw RequestError(400, "dims: '" + name + "' must be a positive whole number");
            if (size.get<std::uint64_t>() > limits.max_elements)
                throw RequestError(422, "dims: " + name + " = " + std::to_string(size.get<std::uint64_t>()) +
                                            " is more than the limit of " + std::to_string(limits.max_elements) + " elements");
            r.dims[name] = static_cast<std::size_t>(size.get<std::uint64_t>());
        }
    }
    return r;
}

/// Refuses, before any value is allocated, a model whose declared values together exceed
/// `max_elements` (at the declaration that crosses it). A dimension neither a number nor in `dims`
/// is left to bind (an error, or drawn small).
void check_value_sizes(const lang::Model& model, const std::map<std::string, std::size_t>& dims, std::size_t max_elements) {
    long double total = 0;
    for (const lang::Declaration& d : model.declarations()) {
        if (!d.shape) continue;
        long double elements = 1;
        for (const lang::Dim& dim : *d.shape) {
            const auto given = dims.find(dim.name);
            elements *= dim.name.empty() ? dim.value : given != dims.end() ? given->second : 1;
        }
        total += elements;
        if (total > max_elements)
            throw RequestError(422,
                               "the model's values would exceed the limit of " + std::to_string(max_elements) +
                                   " elements at " + d.name + " (" + (*d.shape)[0].text() + " x " + (*d.shape)[1].text() + ")",
                               d.line, d.column, model.file());
    }
}

Json matrix_json(const Matrix& m) {
    Json rows = Json::array();
    for (std::size_t i = 0; i < m.shape(0); ++i) {
        Json row = Json::array();
        for (std::size_t j = 0; j < m.shape(1); ++j) row.push_back(m(i, j));
        rows.push_back(std::move(row));
    }
    return rows;
}

std::string document_json(const std::string& format, const std::string& document) {
    return Json{{"format", format}, {"document", document}}.dump() + "\n";
}

void check_format(const std::string& format, std::initializer_list<const char*> choices) {
    std::string names;
    for (const char* c : choices) {
        if (format == c) return;
        names += (names.empty() ? "" : ", ") + std::string(c);
    }
    throw RequestError(400, "unknown format '" + format + "' (formats: " + names + ")");
}

std::string answer(std::string_view endpoint, const Request& r, const Limits& limits,
                   std::chrono::steady_clock::time_point deadline) {
    if (endpoint == "explain" || endpoint == "verify") check_format(r.format, {"json", "text", "latex", "html", "html-fragment"});
    else if (endpoint == "derive") check_format(r.format, {"json", "mg", "numpy"});
    else check_format(r.format, {"json"});

    lang::Model model = lang::Model::parse(r.model, kModelFile);
    if (!r.output.empty()) model.set_output(r.output);
    check_value_sizes(model, r.dims, limits.max_elements);
    lang::BindOptions bind;
    bind.dims = r.dims;
    bind.seed = r.seed;
    bind.describe_dim = [](const std::string& dim, std::size_t size) {
        return dim + " = " + std::to_string(size) + " from dims";
    };
    // As the CLI: a derivation's (and derive's) unbound dimensions get distinct sizes.
    bind.draw_unbound_dims = endpoint == "verify" || endpoint == "derive";
    const report::LoadedModel m = report::bind_model(std::move(model), {}, "", bind);

    const double seconds_left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (endpoint == "explain") {
        report::Explanation e = report::explain_model(m, r.check);
        e.doc.graph_timeout = std::max(0.1, seconds_left);
        if (r.format == "json") return report::render_explanation(e.lines, report::Format::json, e.doc);
        if (r.format == "html-fragment") return document_json(r.format, report::render_html_body(e.lines, nullptr, 0, e.doc));
        return document_json(r.format, report::render_explanation(e.lines, report::parse_format(r.format), e.doc));
    }
    if (endpoint == "verify") {
        const VerifyReport verdicts = report::verify_derivation(m, r.hand, kHandFile, r.tol);
        if (r.format == "json")
            return report::render_verify(verdicts, report::checked_against(m), r.tol, {}, report::Format::json, {});
        report::Explanation e;
        if (r.format != "text") {  // latex and html show the verdicts on the model's equations (as the CLI)
            std::vector<std::string> judged;  // an input with a hand dX gets its own equation, as in the CLI
            for (const GradientReport& g : verdicts.gradients) judged.push_back(g.name);
            e = report::explain_model(m, false, m.model.inputs_with_gradients(judged));
            e.doc.title = "Hand-derived gradients checked against autodiff: " + e.doc.title;
            e.doc.graph_timeout = std::max(0.1, seconds_left);
        }
        if (r.format == "html-fragment") return document_json(r.format, report::render_html_body(e.lines, &verdicts, r.tol, e.doc));
        return document_json(r.format, report::render_verify(verdicts, report::checked_against(m), r.tol, e.lines,
                                                             report::parse_format(r.format), e.doc));
    }
    if (endpoint == "derive") {
        if (r.format == "json") return report::derive_json(m);
        return document_json(r.format, m.model.derive(m.values, r.format == "numpy" ? lang::Model::DeriveFormat::numpy
                                                                                    : lang::Model::DeriveFormat::mg));
    }
    const report::ModelGradients result = report::model_gradients(m, false);
    Json facts = report::grad_facts(m, result);
    Json gradients = Json::object();
    for (const report::NamedGradient& g : result.gradients) gradients[g.name] = matrix_json(g.value);
    facts["gradients"] = std::move(gradients);
    return facts.dump(2) + "\n";
}

}  // namespace

std::string error_json(const std::string& message) { return error_response(400, message).body; }

Response handle_api(std::string_view endpoint, std::string_view body, const Limits& limits) {
    try {
        if (endpoint != "explain" && endpoint != "verify" && endpoint != "derive" && endpoint != "grad")
            return error_response(404, "no endpoint /api/" + std::string(endpoint) +
                                           " (endpoints: /api/explain, /api/verify, /api/derive, /api/grad)");
        if (body.size() > limits.max_body_bytes)
            return error_response(413, "the body is " + std::to_string(body.size()) + " bytes, more than the limit of " +
                                           std::to_string(limits.max_body_bytes));
        if (nesting_depth(body, limits.max_nesting) > limits.max_nesting)
            return error_response(400, "the body nests arrays or objects more than " + std::to_string(limits.max_nesting) + " deep");
        const Json parsed = Json::parse(body, nullptr, false);
        if (parsed.is_discarded()) return error_response(400, "the body is not valid JSON");
        const Request request = read_request(endpoint, parsed, limits);
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(limits.time_limit_seconds));
        // Every node this thread records from here on is checked against the limits (autodiff/limits.hpp).
        ScopedWorkLimits work({limits.max_elements, deadline});
        return {200, answer(endpoint, request, limits, deadline)};
    } catch (const RequestError& e) {
        return error_response(e.status, e.what(), e.line, e.column, e.file);
    } catch (const lang::Error& e) {
        return error_response(400, e.message(), e.line(), e.column(), e.file());
    } catch (const LimitError& e) {
        return error_response(422, std::string("over this server's limits: ") + e.what());
    } catch (const std::bad_alloc&) {
        return error_response(422, "over this server's limits: out of memory");
    } catch (const std::exception& e) {
        return error_response(400, e.what());
    }
}

}  // namespace matgrad::serve
