// Internal to matgrad_report: shared between render.cpp and html.cpp.
#pragma once

#include <report/render.hpp>

namespace matgrad::report {

/// "Z_{1} <align>= W_{1} X + b_{1} \quad \in \mathbb{R}^{64\times 7}".
std::string line_latex(const ExplainLine& line, const char* align = "");

/// A derivation's helper line's verdict: "helper, 64×7", or "helper, not evaluated".
std::string helper_verdict(const HelperReport& h);
/// The helper typeset: "h <align>= W_{2}^{\top} dZ_{2} \quad \in \mathbb{R}^{64\times 7} \quad \text{helper (line 5)}".
std::string helper_latex(const HelperReport& h, const char* align = "");

/// The self-contained page; `reports` null for an explanation, else the verdicts to show.
std::string render_html(const std::vector<ExplainLine>& lines, const VerifyReport* report,
                        double tol, const Document& doc);

}  // namespace matgrad::report
