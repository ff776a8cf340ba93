// report::to_latex: the explainer's Unicode notation as LaTeX, compared with LaTeX written by hand.
#include <report/latex.hpp>
#include <report/render.hpp>

#include <autodiff/autodiff.hpp>
#include <autodiff/inspect.hpp>
#include <autodiff/registry.hpp>
#include <nn/losses.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using matgrad::report::to_latex;

TEST_CASE("to_latex: the slides' notation") {
    CHECK(to_latex("W1 X + b1") == "W_{1} X + b_{1}");
    CHECK(to_latex("dZ1 Xᵀ") == "dZ_{1} X^{\\top}");
    CHECK(to_latex("W2ᵀ dZ2") == "W_{2}^{\\top} dZ_{2}");
    CHECK(to_latex("σ(Z1)") == "\\sigma (Z_{1})");
    CHECK(to_latex("dA1 ⊙ A1(1 − A1)") == "dA_{1} \\odot A_{1}(1 - A_{1})");
    CHECK(to_latex("−(1/7) Y ⊘ A2 + (1/7) (1 − Y) ⊘ (1 − A2)") ==
          "-\\frac{1}{7} Y \\oslash A_{2} + \\frac{1}{7} (1 - Y) \\oslash (1 - A_{2})");
    CHECK(to_latex("−mean(Y ⊙ log(A2) + (1 − Y) ⊙ log(1 − A2))") ==
          "-\\text{mean}(Y \\odot \\log (A_{2}) + (1 - Y) \\odot \\log (1 - A_{2}))");
    CHECK(to_latex("row-sum of dZ1") == "\\text{row-sum of}\\ dZ_{1}");
    CHECK(to_latex("(1/6) 𝟙 ⊘ w") == "\\frac{1}{6} \\mathbf{1} \\oslash w");
    CHECK(to_latex("Σ x × 2") == "\\sum x \\times 2");
}

TEST_CASE("to_latex: user ops, numbers and LaTeX's special characters") {
    CHECK(to_latex("vjp(softmax_col, input 0, g)") == "\\text{vjp}(\\text{softmax\\_col},\\ \\text{input}\\ 0, g)");
    CHECK(to_latex("logits ⊙ 2.5e-3") == "\\text{logits}\\ \\odot 2.5e-3");
    CHECK(to_latex("a_b # 50% & {x}") == "\\text{a\\_b}\\ \\# 50\\% \\& \\{x\\}");
    CHECK(to_latex("(a/b)") == "(a/b)");  // only numeric numerators make \frac
    CHECK(matgrad::report::shape_latex(64, 7) == "\\in \\mathbb{R}^{64\\times 7}");
    CHECK(matgrad::report::text_latex("yours: missing_mean_factor") == "\\text{yours: missing\\_mean\\_factor}");
}

TEST_CASE("parse_format names the choices") {
    CHECK(matgrad::report::parse_format("html") == matgrad::report::Format::html);
    CHECK_THROWS_WITH(matgrad::report::parse_format("pdf"), "unknown format 'pdf' (formats: text, latex, json, html)");
}

TEST_CASE("every op's notation compiles in KaTeX strict mode: the whole op table, LaTeX and explain's Unicode") {
    using namespace matgrad;
    nn::register_losses();  // the losses are ops too (a second registration is a no-op)
    std::string tex;
    auto block = [&](const OpDef& def, const char* what, const std::string& latex) {
        if (latex.empty()) return;
        tex += std::string("% ") + def.name + " " + what + "\n$$\n" + latex + "\n$$\n";
        // A subscript written in Unicode's notation shows as "\_" in LaTeX (mean_j gave \text{mean\_j}\ \sum \_i).
        CHECK_MESSAGE(latex.find(" \\_") == std::string::npos, def.name << " " << what << ": " << latex);
        CHECK_MESSAGE(latex.find("mean\\_j") == std::string::npos, def.name << " " << what << ": " << latex);
    };
    for (const OpDef* def : all_op_definitions()) {
        block(*def, "forward", generic_rule_text(*def, def->forward.latex));
        block(*def, "forward as explain writes it", report::to_latex(generic_rule_text(*def, def->forward.unicode)));
        for (std::size_t i = 0; i < def->inputs.size(); ++i) {
            block(*def, "rule", generic_rule_text(*def, def->inputs[i].rule.latex));
            block(*def, "rule as explain writes it", report::to_latex(generic_rule_text(*def, def->inputs[i].rule.unicode)));
        }
    }
    CHECK(report::to_latex(generic_rule_text(*find_op("softmax_cross_entropy"), find_op("softmax_cross_entropy")->forward.unicode)) ==
          "-\\frac{1}{n} \\sum y \\odot \\log \\ \\text{softmax}(z)");
#if defined(MATGRAD_NODE) && defined(MATGRAD_KATEX_CHECK)
    const std::filesystem::path dir = std::filesystem::path(MATGRAD_EXPLAIN_SCRATCH) / "katex";
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "ops.tex") << tex;
    const std::string command = std::string("'") + MATGRAD_NODE + "' '" + MATGRAD_KATEX_CHECK + "' '" + MATGRAD_KATEX_JS_DIR +
                                "' '" + (dir / "ops.tex").string() + "'";
    CHECK_MESSAGE(std::system(command.c_str()) == 0, command);
#else
    MESSAGE("node or KaTeX missing: the op table's LaTeX is not compiled");
#endif
}
