// The HTML page: one file that works offline. KaTeX's script and stylesheet are inlined with its
// woff2 fonts as data: URIs; the graph is inline SVG from Graphviz. Missing KaTeX or Graphviz
// leave a note in the page (and the equations as text), never a network reference.
#include "html.hpp"

#include <report/latex.hpp>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MATGRAD_KATEX_DIR
#define MATGRAD_KATEX_DIR "/usr/share/javascript/katex"
#endif

namespace matgrad::report {
namespace {

using Kind = ExplainLine::Kind;

bool read_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream s;
    s << in.rdbuf();
    out = s.str();
    return true;
}

std::string base64(const std::string& bytes) {
    static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 | static_cast<unsigned char>(bytes[i + 1]) << 8 |
                           static_cast<unsigned char>(bytes[i + 2]);
        for (int shift : {18, 12, 6, 0}) out += table[(v >> shift) & 63];
    }
    if (i < bytes.size()) {
        unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
        if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += i + 1 < bytes.size() ? table[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

/// KaTeX's stylesheet with every font as an inline woff2 (the woff/ttf fallbacks dropped: every
/// browser KaTeX supports reads woff2). Empty when the stylesheet or a font is missing.
std::string inline_katex_css(const std::string& dir) {
    std::string css;
    if (!read_file(dir + "/katex.min.css", css)) return {};
    std::string out;
    for (std::size_t pos = 0;;) {
        const std::size_t src = css.find("src:url(fonts/", pos);
        if (src == std::string::npos) return out + css.substr(pos);
        const std::size_t name_begin = src + 14, name_end = css.find(')', name_begin);
        const std::size_t list_end = css.find_first_of(";}", name_end);
        if (name_end == std::string::npos || list_end == std::string::npos) return {};
        const std::string font = css.substr(name_begin, name_end - name_begin);
        std::string bytes;
        if (font.size() < 6 || font.substr(font.size() - 6) != ".woff2" || !read_file(dir + "/fonts/" + font, bytes))
            return {};
        out += css.substr(pos, src - pos) + "src:url(data:font/woff2;base64," + base64(bytes) + ") format('woff2')";
        pos = list_end;
    }
}

/// Runs `dot -Tsvg` on `input` through pipes (no temporary file) and returns its output; `status`
/// is waitpid's, `timed_out` says dot was killed after `timeout` seconds. dot dies with us too
/// (PR_SET_PDEATHSIG), so a killed matgrad leaves no dot behind.
std::string run_dot(const std::string& input, double timeout, int& status, bool& timed_out) {
    status = -1;
    timed_out = false;
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return {};
    if (::pipe2(out, O_CLOEXEC) != 0) {
        ::close(in[0]);
        ::close(in[1]);
        return {};
    }
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);  // we died before prctl took effect
        const int null = ::open("/dev/null", O_WRONLY);
        if (::dup2(in[0], 0) < 0 || ::dup2(out[1], 1) < 0 || null < 0 || ::dup2(null, 2) < 0) ::_exit(126);
        ::execlp("dot", "dot", "-Tsvg", static_cast<char*>(nullptr));
        ::_exit(127);  // as the shell says for a command it cannot find
    }
    ::close(in[0]);
    ::close(out[1]);
    if (pid < 0) {
        ::close(in[1]);
        ::close(out[0]);
        return {};
    }
    // A dot that exits before reading everything must not kill us with SIGPIPE.
    struct sigaction ignore {}, previous {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &previous);
    ::fcntl(in[1], F_SETFL, O_NONBLOCK);
    std::string svg;
    std::size_t sent = 0;
    int to_dot = in[1];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
    for (;;) {
        if (to_dot >= 0 && sent == input.size()) {
            ::close(to_dot);
            to_dot = -1;
        }
        pollfd fds[2] = {{out[0], POLLIN, 0}, {to_dot, POLLOUT, 0}};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        const int ready = left.count() <= 0 ? 0 : ::poll(fds, to_dot >= 0 ? 2 : 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {  // the deadline passed (or poll failed): dot is stopped, not waited for
            ::kill(pid, SIGKILL);
            timed_out = ready == 0;
            break;
        }
        if (to_dot >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            const ssize_t n = ::write(to_dot, input.data() + sent, input.size() - sent);
            if (n > 0) sent += static_cast<std::size_t>(n);
            else if (n < 0 && errno != EAGAIN && errno != EINTR) sent = input.size();  // dot stopped reading
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buffer[1 << 16];
            const ssize_t n = ::read(out[0], buffer, sizeof buffer);
            if (n == 0) break;
            if (n > 0) svg.append(buffer, static_cast<std::size_t>(n));
            else if (errno != EINTR && errno != EAGAIN) break;
        }
    }
    if (to_dot >= 0) ::close(to_dot);
    ::close(out[0]);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::sigaction(SIGPIPE, &previous, nullptr);
    return svg;
}

/// The graph as inline SVG, or a note saying why there is none.
std::string graph_svg(const Document& doc, std::string& note) {
    std::size_t nodes = 0;  // Tape::to_dot writes one "  n<k> [" line per node ("  n<k> -> " per edge)
    for (std::size_t at = doc.dot.find("\n  n"); at != std::string::npos; at = doc.dot.find("\n  n", at + 1)) {
        std::size_t end = at + 5;
        while (end < doc.dot.size() && std::isdigit(static_cast<unsigned char>(doc.dot[end]))) ++end;
        nodes += end > at + 5 && doc.dot.compare(end, 2, " [") == 0;
    }
    if (nodes > kMaxGraphNodes) {
        note = "The graph has " + std::to_string(nodes) + " nodes, more than the " + std::to_string(kMaxGraphNodes) +
               " drawn on a page (Graphviz's layout time grows with the cube of its size), so it is left out; "
               "`matgrad graph` prints the DOT.";
        return {};
    }
    // Top to bottom: the tall graph fits beside the equations (Tape::to_dot draws left to right).
    std::string tall = doc.dot;
    if (const std::size_t lr = tall.find("rankdir=LR"); lr != std::string::npos) tall.replace(lr, 10, "rankdir=TB");
    int status = -1;
    bool timed_out = false;
    const std::string svg = run_dot(tall, doc.graph_timeout, status, timed_out);
    const std::size_t start = svg.find("<svg");
    if (timed_out) {
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%g", doc.graph_timeout);
        note = std::string("Graphviz's dot took more than ") + seconds +
               " s on the graph and was stopped, so it is left out; `matgrad graph` prints the DOT.";
        return {};
    }
    if (status != 0 || start == std::string::npos) {
        note = WIFEXITED(status) && WEXITSTATUS(status) == 127
                   ? "Graphviz (the dot program) was not found, so the graph is left out. Install graphviz and "
                     "rerun, or render `matgrad graph` yourself."
                   : "Graphviz's dot failed on the graph (exit status " +
                         std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : status) +
                         "), so it is left out; `matgrad graph` prints the DOT.";
        return {};
    }
    return svg.substr(start);
}

const char* kPageStyle = R"(
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1500px}
h1{font-size:1.3em;margin-bottom:.2em} h2{font-size:1.05em;margin:1em 0 .3em;color:#444}
.desc{color:#555;margin-top:0}
.cols{display:flex;gap:2em;align-items:flex-start}
.eqs{flex:1 1 55%;min-width:0} .graph{flex:1 1 45%;position:sticky;top:1em;min-width:0}
.graph svg{max-width:100%;max-height:90vh;width:auto;height:auto}
.eq{padding:.25em .5em;border-left:4px solid transparent;cursor:pointer;border-radius:3px}
.eq:hover,.eq.hl{background:#fff4c2;border-left-color:#e0a800}
.eq .layout,.eq .fd,.eq .verdict{display:block;font-size:.82em;color:#666;margin-left:1.5em}
.eq.v-ok{border-left-color:#2e8b57} .eq.v-wrong{border-left-color:#c0392b;background:#fdecea}
.eq .verdict{font-weight:600} .v-ok .verdict{color:#2e8b57} .v-wrong .verdict{color:#c0392b}
.first{display:inline-block;background:#c0392b;color:#fff;border-radius:3px;padding:0 .4em;margin-left:.5em;font-size:.8em}
.note{background:#eef;padding:.5em;border-radius:3px}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
tr.ok td.diag{color:#2e8b57;font-weight:600} tr.wrong td.diag{color:#c0392b;font-weight:600}
tr.wrong{background:#fdecea}
g.node.hl ellipse,g.node.hl polygon{stroke:#e0a800;stroke-width:4}
)";

// Typesets every [data-tex] element and links equations and graph nodes: hovering or clicking one
// highlights the other. KaTeX throws on any error (with throwOnError off it would draw an unknown
// command in red but mark nothing); the element then shows the LaTeX source, class katex-error.
const char* kPageScript = R"(
(function(){
  if (typeof katex !== 'undefined')
    document.querySelectorAll('[data-tex]').forEach(function(e){
      var math = e.querySelector('.math');
      try { katex.render(e.getAttribute('data-tex'), math, {throwOnError: true}); }
      catch (err) { math.className += ' katex-error'; math.title = String(err); math.style.color = '#c00'; }
    });
  var nodes = {};
  document.querySelectorAll('.graph g.node').forEach(function(g){
    var t = g.querySelector('title'); if (t) { g.dataset.node = t.textContent.replace(/^n/, ''); nodes[g.dataset.node] = g; }
  });
  function show(k){
    document.querySelectorAll('.hl').forEach(function(e){ e.classList.remove('hl'); });
    if (nodes[k]) nodes[k].classList.add('hl');
    document.querySelectorAll('.eq[data-node="'+k+'"]').forEach(function(e){ e.classList.add('hl'); });
  }
  document.querySelectorAll('.eq[data-node]').forEach(function(e){
    e.addEventListener('mouseenter', function(){ show(e.dataset.node); });
    e.addEventListener('click', function(){ show(e.dataset.node); });
  });
  Object.keys(nodes).forEach(function(k){ nodes[k].addEventListener('mouseenter', function(){ show(k); }); });
  // page.html#node=6 opens with node 6 and its equations highlighted (a link to one step).
  var m = /^#node=(\d+)$/.exec(location.hash); if (m) show(m[1]);
})();
)";

}  // namespace

std::string katex_dir() {
    const char* env = std::getenv("MATGRAD_KATEX_DIR");
    return env && *env ? env : MATGRAD_KATEX_DIR;
}

std::string render_html(const std::vector<ExplainLine>& lines, const VerifyReport* report, double tol,
                        const Document& doc) {
    const std::string dir = katex_dir();
    std::string katex_js;
    const std::string katex_css = inline_katex_css(dir);
    const bool katex = !katex_css.empty() && read_file(dir + "/katex.min.js", katex_js);

    std::ostringstream page;
    page << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>"
         << xml_escape(doc.title.empty() ? "matgrad" : doc.title) << "</title>\n";
    if (katex) page << "<style>" << katex_css << "</style>\n";
    page << "<style>" << kPageStyle << "</style>\n</head><body>\n";
    if (!katex)
        page << "<p class=\"note\" id=\"no-katex\">KaTeX was not found in " << xml_escape(dir)
             << " (install libjs-katex, or set MATGRAD_KATEX_DIR to a KaTeX directory with katex.min.js, "
                "katex.min.css and fonts/): the equations are shown as LaTeX source.</p>\n";
    page << render_html_body(lines, report, tol, doc);
    if (katex) page << "<script>" << katex_js << "</script>\n";
    page << "<script>" << kPageScript << "</script>\n</body></html>\n";
    return page.str();
}

const char* html_page_style() { return kPageStyle; }
const char* html_page_script() { return kPageScript; }

std::string render_html_body(const std::vector<ExplainLine>& lines, const VerifyReport* report, double tol,
                             const Document& doc) {
    std::map<std::string, const GradientReport*> report_of;  // gradient name -> its verdict
    const std::string first_wrong = report ? report->first_wrong_step : "";
    if (report)
        for (const GradientReport& r : report->gradients) report_of[r.name] = &r;
    // A derivation's lines: the table puts each formula as written beside the right one (explain's).
    std::map<std::string, const ExplainLine*> right_of;
    for (const ExplainLine& l : lines)
        if (l.kind == Kind::backward) right_of[l.lhs] = &l;
    bool derivation = false;
    if (report)
        for (const GradientReport& r : report->gradients) derivation = derivation || r.line > 0;
    auto typeset = [](const std::string& tex) {
        return "<span data-tex=\"" + xml_escape(tex) + "\"><span class=\"math\">" + xml_escape(tex) + "</span></span>";
    };

    std::ostringstream page;
    page << "<h1>" << xml_escape(doc.title) << "</h1>\n";
    if (!doc.description.empty()) page << "<p class=\"desc\">" << xml_escape(doc.description) << "</p>\n";

    if (report) {
        std::size_t ok = 0;
        page << "<h2>Your gradients</h2>\n<table class=\"verdicts\"><tr><th>gradient</th>"
             << (derivation ? "<th>line</th><th>yours</th><th>right</th>" : "")
             << "<th class=\"shape\">expected</th><th class=\"shape\">yours</th><th class=\"error\">max |error|</th>"
                "<th>diagnosis</th><th>hint</th></tr>\n";
        for (const GradientReport& r : report->gradients) {
            ok += r.ok();
            char error[32] = "-";
            if (!std::isnan(r.max_abs_error)) std::snprintf(error, sizeof error, "%.3g", r.max_abs_error);
            page << "<tr class=\"" << (r.ok() ? "ok" : "wrong") << "\" data-gradient=\"" << xml_escape(r.name)
                 << "\"><td>" << xml_escape(r.name) << "</td>";
            if (derivation) {
                const auto right = right_of.find(r.name);
                page << "<td class=\"line\">" << (r.line > 0 ? std::to_string(r.line) : "") << "</td><td class=\"yours\">"
                     << (r.line > 0 ? typeset(to_latex(r.name + " = " + r.formula)) : "") << "</td><td class=\"right\">"
                     << (right != right_of.end() ? typeset(line_latex(*right->second)) : "") << "</td>";
            }
            page << "<td class=\"shape\">" << shape_text(r.expected_shape[0], r.expected_shape[1]) << "</td><td class=\"shape\">"
                 << shape_text(r.given_shape[0], r.given_shape[1]) << "</td><td class=\"error\">" << error << "</td><td class=\"diag\">"
                 << xml_escape(r.diagnosis_text() + (r.node.empty() ? "" : " at " + r.node) +
                           (r.consequence_of.empty() ? "" : " (follows from " + r.consequence_of + ")"))
                 << (r.name == first_wrong ? "<span class=\"first\">first wrong step</span>" : "")
                 << "</td><td>" << xml_escape(r.hint) << "</td></tr>\n";
        }
        char tolerance[32];
        std::snprintf(tolerance, sizeof tolerance, "%g", tol);
        page << "</table>\n<p>" << ok << " ok, " << report->gradients.size() - ok << " wrong (tolerance " << tolerance
             << " of each gradient's scale).</p>\n";
        if (!report->helpers.empty()) page << "<h2>Your helper lines</h2>\n";
        for (const HelperReport& h : report->helpers) {
            const std::string tex = helper_latex(h);
            page << "<div class=\"eq helper\" data-tex=\"" << xml_escape(tex) << "\"><span class=\"math\">" << xml_escape(tex)
                 << "</span>" << (h.error.empty() ? "" : "<span class=\"verdict\">" + xml_escape(h.error) + "</span>")
                 << "</div>\n";
        }
    }

    page << "<div class=\"cols\"><div class=\"eqs\">\n";
    for (Kind section : {Kind::input, Kind::forward, Kind::backward, Kind::note}) {
        bool opened = false;
        for (const ExplainLine& l : lines) {
            if (l.kind != section) continue;
            if (!opened) {
                page << "<h2>"
                     << (section == Kind::input      ? "Inputs"
                         : section == Kind::forward  ? "Forward"
                         : section == Kind::backward ? backward_heading(lines)
                                                     : "Notes")
                     << "</h2>\n";
                opened = true;
            }
            if (section == Kind::note) {
                page << "<p class=\"note\">" << xml_escape(l.formula) << "</p>\n";
                continue;
            }
            const std::string tex = section == Kind::input
                                        ? to_latex(l.lhs) + " " + shape_latex(l.shape[0], l.shape[1]) + " \\quad " + text_latex(l.formula)
                                        : line_latex(l);
            std::string cls = section == Kind::input ? "eq input" : "eq";
            const auto found = section == Kind::backward ? report_of.find(l.lhs) : report_of.end();
            if (found != report_of.end()) cls += found->second->ok() ? " v-ok" : " v-wrong";
            page << "<div class=\"" << cls << "\" data-node=\"" << l.node << "\" data-tex=\"" << xml_escape(tex)
                 << "\" title=\"" << xml_escape(l.lhs + ": " + l.shapes) << "\"><span class=\"math\">" << xml_escape(tex) << "</span>";
            if (!l.layout.empty()) page << "<span class=\"layout\">layout: " << xml_escape(l.layout) << "</span>";
            if (!std::isnan(l.fd_error)) {
                char fd[64];
                std::snprintf(fd, sizeof fd, "finite differences: max |Δ| = %.3e", l.fd_error);
                page << "<span class=\"fd\">" << fd << "</span>";
            }
            if (found != report_of.end()) {
                const GradientReport& r = *found->second;
                page << "<span class=\"verdict\">yours";
                if (r.line > 0)  // a derivation's line: your formula typeset, and the step's verdict
                    page << " (line " << r.line << "): <span data-tex=\"" << xml_escape(to_latex(r.name + " = " + r.formula))
                         << "\"><span class=\"math\">" << xml_escape(to_latex(r.name + " = " + r.formula)) << "</span></span> "
                         << xml_escape(r.diagnosis_text() + ", step " + r.step);
                else
                    page << ": " << xml_escape(r.diagnosis_text());
                page
                     << (r.ok() ? "" : " — " + xml_escape(r.hint))
                     << (r.name == first_wrong ? "<span class=\"first\">first wrong step</span>" : "") << "</span>";
            }
            page << "</div>\n";
        }
    }
    page << "</div>\n<div class=\"graph\">\n";
    if (!doc.dot.empty()) {
        std::string note;
        const std::string svg = graph_svg(doc, note);
        page << "<h2>Graph (hover an equation or a node)</h2>\n";
        if (svg.empty()) page << "<p class=\"note\" id=\"no-graph\">" << xml_escape(note) << "</p>\n";
        else page << svg << "\n";
    }
    page << "</div></div>\n";
    return page.str();
}

}  // namespace matgrad::report
