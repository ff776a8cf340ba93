// Derivation files: the slides' derivation as typed on the slides, every diagnosis reached from a
// formula, the step verdict on constructed cases (a right step with a wrong input, a wrong step with
// right inputs, a helper carrying a wrong gradient), shape_mismatch, and every error class with its
// position. The truth is always autodiff (matgrad::verify on the model's tape).
#include "lang_test_util.hpp"
#include "test_util.hpp"

#include <lang/derivation.hpp>

#include <autodiff/autodiff.hpp>
#include <autodiff/inspect.hpp>
#include <nn/io.hpp>
#include <nn/reference.hpp>

#include <xtensor-blas/xlinalg.hpp>

#include <filesystem>
#include <optional>

using namespace matgrad;

namespace {

constexpr const char* kSlidesDerivation =
    "dA2 = −Y ⊘ A2 + (1 − Y) ⊘ (1 − A2)\n"
    "dZ2 = dA2 ⊙ σ'(Z2)\n"
    "dW2 = dZ2 * A1ᵀ\n"
    "db2 = sum(dZ2, 1)\n"
    "dA1 = W2ᵀ * dZ2\n"
    "dZ1 = dA1 ⊙ σ'(Z1)\n"
    "dW1 = dZ1 * Xᵀ\n"
    "db1 = sum(dZ1, 1)\n";

/// The example model `name` with values drawn from seed 1 (unbound dimensions drawn distinct), but
/// for gaussian_nll's inputs I (which must be the identity) and X, read from its .npy files.
struct Example {
    explicit Example(const std::string& name) : Example(test::example_model(name), fixed_inputs(name)) {}
    explicit Example(lang::Model m, lang::Values given = {}) : model(std::move(m)), values(std::move(given)) {
        lang::BindOptions options;
        options.seed = 1;
        options.draw_unbound_dims = true;
        dims = model.bind(values, options);
    }
    VerifyReport judge(const std::string& derivation) const {
        return lang::Derivation::parse(derivation, "d.mg", model).verify(values);
    }
    lang::Model model;
    lang::Values values;
    std::map<std::string, std::size_t> dims;

private:
    static lang::Values fixed_inputs(const std::string& name) {
        lang::Values inputs;
        if (name == "gaussian_nll")
            for (const std::string input : {"I", "X"})
                inputs.emplace(input, io::read_npy(test::model_path(name + "/" + input + ".npy")));
        return inputs;
    }
};

const GradientReport& line(const VerifyReport& r, const std::string& name) {
    for (const GradientReport& g : r.gradients)
        if (g.name == name) return g;
    FAIL("no line " << name);
    return r.gradients.front();
}

std::string error_of(const std::string& derivation, const std::string& model = "slides") {
    const Example e(model);
    try {
        e.judge(derivation);
    } catch (const lang::Error& error) {
        return error.formatted();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("the slides' derivation as typed: dA2 lacks the mean's 1/n, every later step is right") {
    const VerifyReport r = Example("slides").judge(kSlidesDerivation);
    REQUIRE(r.gradients.size() == 8);
    CHECK(r.first_wrong_step == "dA2");
    const GradientReport& dA2 = r.gradients[0];
    CHECK(dA2.name == "dA2");
    CHECK(dA2.line == 1);
    CHECK(dA2.formula == "−Y ⊘ A2 + (1 − Y) ⊘ (1 − A2)");
    CHECK(dA2.diagnosis == "missing_mean_factor");
    CHECK(dA2.factor == 7.0);
    CHECK(dA2.step == "wrong");
    CHECK(dA2.consequence_of.empty());
    const std::map<std::string, std::string> from{{"dZ2", "dA2"}, {"dW2", "dZ2"}, {"db2", "dZ2"}, {"dA1", "dZ2"},
                                                  {"dZ1", "dA1"}, {"dW1", "dZ1"}, {"db1", "dZ1"}};
    for (std::size_t k = 1; k < r.gradients.size(); ++k) {
        const GradientReport& g = r.gradients[k];
        INFO(g.name << ": " << g.hint);
        CHECK(g.line == k + 1);
        CHECK(g.diagnosis == "missing_mean_factor");
        CHECK(g.step == "ok");
        CHECK(g.consequence_of == from.at(g.name));
        CHECK(g.node.find("unnamed") == std::string::npos);  // named as it reads, never "the unnamed mean result #21"
    }
    // With the 1/n every line is right (against autodiff, tolerance 1e-8 of each gradient's scale).
    const VerifyReport fixed = Example("slides").judge(
        "n = 7\ndA2 = (−Y ⊘ A2 + (1 − Y) ⊘ (1 − A2)) / n\n" +
        std::string(kSlidesDerivation).substr(std::string(kSlidesDerivation).find('\n') + 1));
    CHECK(fixed.ok());
    CHECK(fixed.first_wrong_step.empty());
    for (const GradientReport& g : fixed.gradients) CHECK(g.step == "ok");
}

TEST_CASE("each diagnosis reached from a formula, named on its line") {
    const Example slides("slides");
    auto diagnosis = [&](const std::string& derivation, const std::string& name) {
        const VerifyReport r = slides.judge(derivation);
        const GradientReport& g = line(r, name);
        return g.diagnosis_text() + "/" + g.step;
    };
    const std::string right = "dZ2 = (A2 - Y) / 7\ndA1 = W2ᵀ * dZ2\n";
    CHECK(diagnosis(right + "dZ1 = dA1 ⊙ σ'(Z1)\ndW1 = (dZ1 * Xᵀ)ᵀ\n", "dW1") == "transposed/wrong");
    CHECK(diagnosis(right + "dZ1 = dA1 ⊙ σ'(Z1)\ndb1 = dZ1\n", "db1") == "not_summed/wrong");
    CHECK(diagnosis(right + "dZ1 = dA1\n", "dZ1") == "missing_activation_derivative/wrong");
    CHECK(diagnosis(right + "dZ1 = dA1 ⊙ σ'(A1)\n", "dZ1") == "derivative_at_output/wrong");
    CHECK(diagnosis(right + "dZ1 = −dA1 ⊙ σ'(Z1)\n", "dZ1") == "sign_flipped/wrong");
    CHECK(diagnosis(right + "dZ1 = 3 * dA1 ⊙ σ'(Z1)\n", "dZ1") == "scaled/wrong");
    CHECK(diagnosis(right + "dZ1 = dA1 ⊙ σ'(Z1) + 0.5\n", "dZ1") == "unexplained/wrong");
    CHECK(diagnosis("dZ2 = A2 - Y\n", "dZ2") == "missing_mean_factor/wrong");
    CHECK(diagnosis("dZ2 = (A2 - Y) / 49\n", "dZ2") == "extra_mean_factor/wrong");
    CHECK(diagnosis("dZ2 = (A2 - Y) / 7\ndb2 = dZ2 * A1ᵀ\n", "db2") == "wrong_shape/wrong");
    // log_softmax's Jacobian taken as diagonal: dZ = dL ⊙ (1 − softmax(Z)) with dL = −Y/n.
    const Example softmax("softmax_regression");
    const VerifyReport s = softmax.judge("dZ = −Y / n ⊙ (1 − softmax(Z))\n");
    CHECK(line(s, "dZ").diagnosis == "diagonal_jacobian");
    CHECK(line(s, "dZ").node == "log_softmax(Z)");  // as it reads, no line of its own
    // The p of p x^(p−1) dropped.
    const Example cube(lang::Model::parse("param w : 2 x 3\nJ = sum(w .^ 3)\n", "c.mg"));
    CHECK(line(cube.judge("dw = w .^ 2\n"), "dw").diagnosis == "missing_power_factor");
    CHECK(cube.judge("dw = 3 * w .^ 2\n").ok());
    // A value used twice, by the mean and by the penalty: leaving one use out is missing_path.
    const Example twice(lang::Model::parse("input X : d x n\nparam w : 1 x d\nJ = mean(w*X) + 0.5 * sum(w .^ 2)\n", "w.mg"));
    const VerifyReport r = twice.judge("dw = sum(X, 1)ᵀ / n\n");
    CHECK(line(r, "dw").diagnosis == "missing_path");
    CHECK(line(r, "dw").step == "wrong");
    CHECK(twice.judge("dw = sum(X, 1)ᵀ / n + w\n").ok());
}

TEST_CASE("the step: a right step with a wrong input, a wrong step with right inputs, a helper") {
    const Example slides("slides");
    // A wrong input (dZ2 transposed would not fit; here 2x too large): dW2's value is wrong, its step right.
    VerifyReport r = slides.judge("dZ2 = 2 * (A2 - Y) / 7\ndW2 = dZ2 * A1ᵀ\n");
    CHECK(line(r, "dW2").diagnosis == "scaled");
    CHECK(line(r, "dW2").step == "ok");
    CHECK(line(r, "dW2").consequence_of == "dZ2");
    CHECK(r.first_wrong_step == "dZ2");
    // Right inputs, a wrong formula: the mistake is made on this line.
    r = slides.judge("dZ2 = (A2 - Y) / 7\ndW2 = dZ2 * A1ᵀ * 2\n");
    CHECK(line(r, "dZ2").ok());
    CHECK(line(r, "dW2").step == "wrong");
    CHECK(line(r, "dW2").consequence_of.empty());
    CHECK(r.first_wrong_step == "dW2");
    // A helper carrying a wrong gradient: the line using it is right given dZ2, so its step is ok and its
    // wrong value follows from dZ2 through the helper.
    r = slides.judge("dZ2 = A2 - Y\nback = W2ᵀ * dZ2\ndA1 = back\n");
    CHECK(line(r, "dA1").diagnosis == "missing_mean_factor");
    CHECK(line(r, "dA1").step == "ok");
    CHECK(line(r, "dA1").consequence_of == "dZ2");
    // A helper that makes the mistake itself: the gradient line using it is where the step is wrong.
    r = slides.judge("dZ2 = (A2 - Y) / 7\nback = W2ᵀ * dZ2 * 2\ndA1 = back\n");
    CHECK(line(r, "dA1").step == "wrong");
    CHECK(r.first_wrong_step == "dA1");
}

// dX = W1ᵀ dZ1 from the slides' formulas down to dZ1 (with the mean's 1/n).
constexpr const char* kToDZ1 = "dZ2 = (A2 - Y) / 7\ndA1 = W2ᵀ * dZ2\ndZ1 = dA1 ⊙ σ'(Z1)\n";

TEST_CASE("an input recorded as a variable: its gradient is the slides' dX = W1ᵀ dZ1") {
    const Example slides("slides");
    // Against reference_pass's dZ1 (plain xtensor, no tape).
    const lang::Values& v = slides.values;
    const nn::ForwardBackward ref = nn::reference_pass({v.at("W1"), v.at("W2")}, {v.at("b1"), v.at("b2")}, v.at("X"), v.at("Y"));
    const Matrix dX = xt::linalg::dot(xt::transpose(v.at("W1")), ref.dZ[1]);
    Tape tape;
    const lang::Recording r = slides.model.record(tape, v, {}, {"X"});
    tape.backward(r.output());
    CHECK(test::max_abs_diff(r.var("X").grad(), dX) <= 1e-12);
    CHECK(!r.var("Y").requires_grad());  // only the inputs asked for
    CHECK_THROWS_AS(slides.model.record(tape, v, {}, {"W1"}), std::invalid_argument);  // a param is no input
}

TEST_CASE("a right dX line is ok, value and step, like a param's gradient") {
    const Example slides("slides");
    const VerifyReport r = slides.judge(kToDZ1 + std::string("dX = W1ᵀ * dZ1\n"));
    CHECK(r.ok());
    CHECK(line(r, "dX").line == 4);
    CHECK(line(r, "dX").step == "ok");
    CHECK(line(r, "dX").expected_shape == std::array<std::size_t, 2>{10, 7});
    // Another input: dY of the loss, (log(1 − A2) − log(A2)) / n.
    CHECK(line(slides.judge("dY = (log(1 − A2) − log(A2)) / 7\n"), "dY").ok());
}

TEST_CASE("a transposed dX line is diagnosed transposed, its step wrong") {
    const VerifyReport r = Example("slides").judge(kToDZ1 + std::string("dX = (W1ᵀ * dZ1)ᵀ\n"));
    CHECK(line(r, "dX").diagnosis == "transposed");
    CHECK(line(r, "dX").step == "wrong");
    CHECK(r.first_wrong_step == "dX");
}

TEST_CASE("a dX line on a wrong earlier line: step ok, wrong only through dZ1") {
    const VerifyReport r = Example("slides").judge("dZ2 = A2 - Y\ndA1 = W2ᵀ * dZ2\ndZ1 = dA1 ⊙ σ'(Z1)\ndX = W1ᵀ * dZ1\n");
    CHECK(line(r, "dX").diagnosis == "missing_mean_factor");
    CHECK(line(r, "dX").step == "ok");
    CHECK(line(r, "dX").consequence_of == "dZ1");
    CHECK(r.first_wrong_step == "dZ2");
}

TEST_CASE("shape_mismatch: a line that cannot be evaluated is a finding, later lines still judged") {
    const Example slides("slides");
    const VerifyReport r = slides.judge("dZ2 = (A2 - Y) / 7\ndW2 = dZ2 * A1\ndA1 = W2ᵀ * dZ2\ndZ1 = dA1 ⊙ σ'(Z1)\n");
    const GradientReport& dW2 = line(r, "dW2");
    CHECK(dW2.diagnosis == "shape_mismatch");
    CHECK(dW2.hint == "dZ2 * A1: dZ2 is 1x7 but A1 is 64x7 (inner dimensions 7 and 64 differ)");
    CHECK(dW2.step == "wrong");
    CHECK(r.first_wrong_step == "dW2");
    CHECK(line(r, "dA1").ok());
    CHECK(line(r, "dZ1").ok());
    CHECK(!r.ok());
    // A transposed dZ2 makes dW2 = dZ2 * A1ᵀ unevaluable on your values, but the step is right.
    const VerifyReport t = slides.judge("dZ2 = ((A2 - Y) / 7)ᵀ\ndW2 = dZ2 * A1ᵀ\ndb2 = sum(dW2)\n");
    CHECK(line(t, "dZ2").diagnosis == "transposed");
    CHECK(line(t, "dW2").diagnosis == "shape_mismatch");
    CHECK(line(t, "dW2").step == "ok");
    CHECK(line(t, "dW2").consequence_of == "dZ2");
    CHECK(line(t, "db2").diagnosis == "not_evaluated");  // uses dW2, which could not be evaluated
}

TEST_CASE("a helper that cannot be evaluated on the true gradients: the lines using it have no step, named") {
    // Found by fuzz_model: h's step fails (W1ᵀ is 10x64, dZ2 1x7); dA1 = h used to read h's empty step.
    const VerifyReport r =
        Example("slides").judge("dZ2 = (A2 - Y) / 7\nh = W1ᵀ * dZ2\ng = h\ndA1 = g\ndZ1 = dA1 ⊙ σ'(Z1)\n");
    CHECK(line(r, "dZ2").ok());
    CHECK(line(r, "dA1").step == "wrong");
    CHECK(line(r, "dA1").hint.find("h (line 2): W1ᵀ * dZ2: W1ᵀ is 10x64 but dZ2 is 1x7") != std::string::npos);
    CHECK(r.first_wrong_step == "dA1");
}

TEST_CASE("A1(1 − A1) typed as on the slides: a shape_mismatch that says juxtaposition is the matrix product") {
    const VerifyReport r = Example("slides").judge("dZ2 = (A2 − Y) / 7\ndA1 = W2ᵀ dZ2\ndZ1 = dA1 ⊙ A1(1 − A1)\n");
    CHECK(line(r, "dZ1").diagnosis == "shape_mismatch");
    CHECK(line(r, "dZ1").hint == "A1(1 − A1): A1 is 64x7 but (1 − A1) is 64x7 (inner dimensions 7 and 64 differ; * and "
                                 "juxtaposition are the matrix product, for the element-wise product write ⊙ (or .*))");
    // Shapes that differ get no such advice: dZ2 * A1 is no element-wise product either.
    CHECK(line(Example("slides").judge("dW2 = (A2 − Y) * A1\n"), "dW2").hint.find("element-wise") == std::string::npos);
}

TEST_CASE("unbound dimension names are drawn as distinct sizes: a transposed gradient is never a coincidence") {
    const Example tanh("tanh_mse");  // d and n from X, h from nothing
    CHECK(tanh.dims.at("h") != tanh.dims.at("d"));
    CHECK(tanh.dims.at("h") != tanh.dims.at("n"));
    CHECK(tanh.dims.at("h") != 1);
    const VerifyReport r = tanh.judge("dR = 2 * R / n\ndP = dR\ndw2 = (dP * Hᵀ)ᵀ\n");
    CHECK(line(r, "dR").ok());
    CHECK(line(r, "dw2").diagnosis == "transposed");
}

TEST_CASE("derivation errors: FILE:LINE:COL, the line and a caret") {
    CHECK(error_of("dZ2 = A3 - Y\n") == "d.mg:1:7: error: unknown name 'A3' (did you mean A1?)\n  dZ2 = A3 - Y\n        ^");
    CHECK(error_of("# c\nZ2 = A2\n") ==
          "d.mg:2:1: error: 'Z2' is a name of the model (slides.mg line 10); your gradient of it is dZ2\n  Z2 = A2\n  ^");
    CHECK(error_of("dZ2 = A2\ndZ2 = Y\n") ==
          "d.mg:2:1: error: 'dZ2' is already defined on line 1 (a name is assigned once)\n  dZ2 = Y\n  ^");
    CHECK(error_of("dA1 = dZ1\ndZ1 = A1\n").rfind("d.mg:1:7: error: 'dZ1' is used before it is defined (on line 2)", 0) == 0);
    CHECK(error_of("param W : 2 x 2\n").rfind("d.mg:1:1: error: expected NAME = expression (dNAME: your gradient of "
                                              "NAME; any other name: a helper), got 'param': the model declares the names",
                                              0) == 0);
    CHECK(error_of("dZ1 = sum'(Z1)\n").rfind("d.mg:1:7: error: 'sum'' is not defined: a derivative f'(x) is written for a "
                                             "function of one matrix applied element-wise", 0) == 0);
    CHECK(error_of("# nothing\n") == "d.mg: error: the derivation has no line (dNAME = expression: your gradient of NAME)");
    CHECK(error_of("dc = T\n", "tanh_mse") == "(no error)");  // not d + a model name: a helper
    // f'(x) is a derivation's: a model differentiates by autodiff.
    try {
        lang::Model::parse("input X : 2 x 2\nJ = sum(σ'(X))\n", "m.mg");
        FAIL("no error");
    } catch (const lang::Error& e) {
        CHECK(std::string(e.what()).rfind("m.mg:2:9: error: 'σ'(...)' is a derivative, written only in a derivation file", 0) == 0);
    }
}

TEST_CASE("examples/derivations: each example model's derivation is right, and the slides' as typed is not") {
    const std::string dir = std::string(MATGRAD_MODELS_DIR) + "/../derivations/";
    for (const std::string name : {"tanh_mse", "softmax_regression", "l2_logistic", "gaussian_nll"}) {
        INFO(name);
        const Example e(name);
        const VerifyReport r = lang::Derivation::parse(test::read_text(dir + name + ".mg"), name, e.model).verify(e.values);
        for (const GradientReport& g : r.gradients) {
            INFO(g.name << ": " << g.hint);
            CHECK(g.ok());
            CHECK(g.step == "ok");
        }
        CHECK(!r.gradients.empty());
    }
    const Example slides("slides");
    const VerifyReport r = lang::Derivation::parse(test::read_text(dir + "slides.mg"), "slides", slides.model).verify(slides.values);
    CHECK(r.first_wrong_step == "dA2");
    CHECK(r.gradients.size() == 8);
}

TEST_CASE("derive → verify: the derivation matgrad writes is all right, on every example and fuzz corpus model") {
    std::vector<std::pair<std::string, std::string>> models;  // (name, source)
    for (const std::string name : {"slides", "tanh_mse", "softmax_regression", "l2_logistic", "gaussian_nll"})
        models.emplace_back(name, test::read_text(test::model_path(name + ".mg")));
    for (const auto& entry : std::filesystem::directory_iterator(MATGRAD_FUZZ_CORPUS_DIR))
        models.emplace_back(entry.path().filename().string(), test::read_text(entry.path().string()));
    std::size_t derived = 0;
    for (const auto& [name, source] : models) {
        INFO(name);
        std::optional<lang::Model> model;
        lang::Values values;
        try {  // the corpus holds broken models too: only those that record are derived
            model.emplace(lang::Model::parse(source, name));
            lang::BindOptions options;
            options.seed = 1;
            options.draw_unbound_dims = true;
            model->bind(values, options);
            Tape tape;
            if (!model->record(tape, values).output().requires_grad()) {  // no param: nothing to derive
                CHECK_THROWS_AS(model->derive(values), lang::Error);
                continue;
            }
        } catch (const lang::Error&) {
            continue;
        }
        const std::string key = model->derive(values);
        INFO(key);
        if (name == "slides")  // a broadcast bias's gradient as a teacher writes it
            CHECK(key.find("\ndb2 = rowsum(dZ2)\ndW2 = dZ2 * A1'\ndb1 = rowsum(dZ1)\n") != std::string::npos);
        const VerifyReport r = lang::Derivation::parse(key, "key.mg", *model).verify(values);
        CHECK(r.ok());
        for (const GradientReport& g : r.gradients) CHECK(g.step == "ok");
        CHECK(r.gradients.size() >= model->param_names().size());
        ++derived;
    }
    CHECK(derived >= 8);
}

TEST_CASE("derive writes briefly where that stays right: the broadcast-back only where needed, helpers used once inlined") {
    // The slides: the mean's `+ 0 * (...)` is left out (Y broadcasts the 1x1 gradient) and the
    // helpers used once are written into their use -- the text a teacher would write.
    const Example slides("slides");
    CHECK(slides.model.derive(slides.values) ==
          "dJ = 1\n"
          "g1 = (-dJ) / 7\n"
          "dA2 = ((g1 .* Y) ./ A2) - ((g1 .* (1 - Y)) ./ (1 - A2))\n"
          "dZ2 = dA2 .* A2 .* (1 - A2)\n"
          "dA1 = W2' * dZ2\n"
          "dZ1 = dA1 .* A1 .* (1 - A1)\n"
          "db2 = rowsum(dZ2)\n"
          "dW2 = dZ2 * A1'\n"
          "db1 = rowsum(dZ1)\n"
          "dW1 = dZ1 * X'\n");
    // Where nothing later broadcasts it, the gradient keeps the operand's shape: dW is 3x4, not 1x1.
    const Example mean_of_param(lang::Model::parse("param W : 3 x 4\nJ = mean(W)\n", "m.mg"));
    CHECK(mean_of_param.model.derive(mean_of_param.values) == "dJ = 1\ndW = dJ / 12 + 0 * W\n");
    const Example named_sum(lang::Model::parse("param W : 3 x 4\nA = W .* 2\nJ = sum(A)\n", "m.mg"));
    CHECK(named_sum.model.derive(named_sum.values) == "dJ = 1\ndA = dJ + 0 * A\ndW = dA .* 2\n");
    // A helper name the model already uses is skipped when the helpers are numbered again.
    const Example taken(lang::Model::parse("param g1 : 2 x 3\nparam b : 2 x 1\nH = tanh(g1 .* 3 + b)\nJ = sum(H .* H)\n", "m.mg"));
    const std::string key = taken.model.derive(taken.values);
    INFO(key);
    CHECK(key.find("\ng1 =") == std::string::npos);
    CHECK(taken.judge(key).ok());
}

TEST_CASE("explain's backward equations, copied as printed, are a derivation that verify finds all right") {
    // Nothing is inserted: juxtaposition is the matrix product, rowsum/colsum, ², ⁻¹, ⁻ᵀ and 𝟙 read
    // as explain writes them.
    for (const std::string name : {"slides", "tanh_mse", "softmax_regression", "l2_logistic", "gaussian_nll"}) {
        INFO(name);
        const Example e(name);
        const lang::Model& model = e.model;
        const lang::Values& values = e.values;
        std::vector<Matrix> params;
        for (const std::string& p : model.param_names()) params.push_back(values.at(p));
        std::string derivation;
        std::size_t equations = 0;
        for (const ExplainLine& l : explain(model.loss(values), params, model.param_names()))
            if (l.kind == ExplainLine::Kind::backward) {
                derivation += l.lhs + " = " + l.formula + "\n";
                ++equations;
            }
        INFO(derivation);
        const VerifyReport r = lang::Derivation::parse(derivation, name + ".mg", model).verify(values);
        CHECK(r.gradients.size() == equations);
        CHECK(equations >= model.param_names().size());
        for (const GradientReport& g : r.gradients) {
            INFO(g.name << " = " << g.formula << ": " << g.diagnosis << " " << g.hint);
            CHECK(g.ok());
            CHECK(g.step == "ok");
        }
    }
}
