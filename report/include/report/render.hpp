// Derivations as documents: the explainer's lines (matgrad::explain) and the verdicts of
// `matgrad verify` rendered as plain text, LaTeX, JSON or one self-contained HTML page.
//
// The renderers only read the structures they are given (ExplainLine, matgrad::VerifyReport), so
// they work for any graph the explainer and the verifier can read, user-defined ops included.
#pragma once

#include <autodiff/inspect.hpp>
#include <autodiff/verify.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace matgrad::report {

/// The output formats of `matgrad explain` and `matgrad verify`.
enum class Format { text, latex, json, html };

/// "text", "latex", "json" or "html"; throws std::invalid_argument naming the choices otherwise.
Format parse_format(std::string_view name);

/// What a document says besides its lines.
struct Document {
    std::string title;        ///< one line: "The 10-64-1 network (...) on 7 samples ..."
    std::string description;  ///< a sentence under the title (may be empty)
    /// The tape as Graphviz DOT (Tape::to_dot), whose node n<k> is ExplainLine::node k; the HTML
    /// page draws it with `dot -Tsvg` (with a note instead when Graphviz is missing, the graph has
    /// more than kMaxGraphNodes nodes, or dot takes longer than graph_timeout). Empty: no graph.
    std::string dot;
    /// Seconds `dot` may run before it is killed and the graph left out (its layout time grows with
    /// the cube of the graph's size).
    double graph_timeout = 30.0;
};

/// Above this many nodes the HTML page leaves the graph out with a note (Graphviz would take
/// minutes) instead of drawing it.
inline constexpr std::size_t kMaxGraphNodes = 1000;

/// The explanation in `format`:
/// - text: the title, the description and format_explanation(lines);
/// - latex: one `aligned` block per section (inputs, forward, backward) in $$...$$, each equation
///   with its shape as `\in \mathbb{R}^{m\times n}`; titles, layout notes, finite-difference errors
///   and notes as % comments, so it pastes into a Jupyter Markdown cell or a paper;
/// - json: {"title", "description", "lines": [...]} with the keys documented in the README;
/// - html: a self-contained page (inline KaTeX, inline SVG graph), see render_html.
std::string render_explanation(const std::vector<ExplainLine>& lines, Format format, const Document& doc);

/// The verdicts of hand-derived gradients (matgrad::verify) in `format`. `model` says what they
/// were checked against (the text format's first line); `tol` is the match tolerance. `lines` (may
/// be empty) is the explanation of the same graph: latex and html show its equations with each
/// hand-checked gradient's verdict and mark the report's first wrong step.
/// - text: ✓/✗ per gradient in reverse-pass order, an arrow at the first wrong step;
/// - json: {"gradients": [{"name", "diagnosis", "also", "node", "op", "factor", "max_abs_error",
///   "expected_shape", "given_shape", "hint", "consequence_of", ...}], "first_wrong_step"}.
std::string render_verify(const VerifyReport& report, const std::string& model, double tol,
                          const std::vector<ExplainLine>& lines, Format format, const Document& doc);

/// The HTML page's content without its head, KaTeX and script -- the title, the verdicts' table
/// (for a derivation, each line's formula typeset beside the right one), the equations with
/// `data-tex` LaTeX and the graph as inline SVG -- for a page that typesets and links it itself
/// (matgrad serve) with html_page_style() and html_page_script(). `report` null for an explanation.
std::string render_html_body(const std::vector<ExplainLine>& lines, const VerifyReport* report, double tol,
                             const Document& doc);
/// The HTML page's CSS (without KaTeX's).
const char* html_page_style();
/// The HTML page's script: typesets every [data-tex] element with KaTeX (when loaded) and links
/// equations and graph nodes; run it again after replacing the content.
const char* html_page_script();

/// Text for an HTML or SVG page: the five characters XML reserves (& < > " ') escaped.
std::string xml_escape(std::string_view text);

/// The directory KaTeX is read from: $MATGRAD_KATEX_DIR if set, else the one found at configure
/// time (Debian's libjs-katex: /usr/share/javascript/katex).
std::string katex_dir();

}  // namespace matgrad::report
