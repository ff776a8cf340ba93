// diagnose() on constructed cases -- every diagnosis, and the look-alikes that must not be
// misdiagnosed -- and verify_mlp() on the slides' network with hand gradients built from the
// independent reference_pass and from hand formulas written out here.
#include "test_util.hpp"

#include <nn/reference.hpp>
#include <nn/verify.hpp>

#include <doctest/doctest.h>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xmanipulation.hpp>

#include <cmath>

using namespace matgrad;
using matgrad::nn::Diagnosis;
using matgrad::test::max_abs_diff;
using matgrad::test::random_matrix;

namespace {

Matrix transposed(const Matrix& m) { return xt::transpose(m); }
Matrix times(double k, const Matrix& m) { return k * m; }
Matrix row_sums(const Matrix& m) {
    Matrix s = xt::zeros<double>({m.shape(0), std::size_t{1}});
    for (std::size_t i = 0; i < m.shape(0); ++i)
        for (std::size_t j = 0; j < m.shape(1); ++j) s(i, 0) += m(i, j);
    return s;
}

nn::GradientTruth truth_of(const Matrix& expected, std::size_t n) {
    nn::GradientTruth t;
    t.param = "dW1";
    t.formula = "dZ1 Xᵀ";
    t.expected = expected;
    t.mean_count = n;
    return t;
}

nn::GradientTruth bias_truth(const Matrix& per_sample, std::size_t n) {
    nn::GradientTruth t = truth_of(row_sums(per_sample), n);
    t.param = "db1";
    t.formula = "row-sum of dZ1";
    t.per_sample = per_sample;
    t.per_sample_formula = "dZ1";
    return t;
}

// The slides' network with seeded values: X 10x7, W1 64x10, b1 64x1, W2 1x64, b2 1x1.
nn::MlpProblem slides_problem(std::size_t samples = 7) {
    nn::MlpSource source;
    source.samples = samples;
    source.seed = 3;
    return nn::load_mlp_problem(source);
}

std::map<std::string, Matrix> one(const std::string& name, const Matrix& m) { return {{name, m}}; }

}  // namespace

TEST_CASE("diagnose: an exact match (and one off by rounding) is ok") {
    const Matrix E = random_matrix(4, 3, 1);
    CHECK(nn::diagnose(truth_of(E, 7), E).diagnosis == Diagnosis::ok);
    const nn::GradientReport r = nn::diagnose(truth_of(E, 7), E + 1e-13);
    CHECK(r.diagnosis == Diagnosis::ok);
    CHECK(r.max_abs_error == doctest::Approx(1e-13).epsilon(1e-3));
    CHECK(r.hint == "dW1 = dZ1 Xᵀ (4×3)");
}

TEST_CASE("diagnose: transposed, for a non-square and a square gradient") {
    const Matrix E = random_matrix(4, 3, 2);
    const nn::GradientReport r = nn::diagnose(truth_of(E, 7), transposed(E));
    CHECK(r.diagnosis == Diagnosis::transposed);
    CHECK(r.also.empty());
    CHECK(r.hint.find("dW1 should be dZ1 Xᵀ (4×3); yours equals (dZ1 Xᵀ)ᵀ") == 0);
    CHECK(std::isnan(r.max_abs_error));  // shapes differ: no element-wise error

    const Matrix S = random_matrix(5, 5, 3);  // square, not symmetric
    CHECK(nn::diagnose(truth_of(S, 7), transposed(S)).diagnosis == Diagnosis::transposed);
}

TEST_CASE("diagnose: a square gradient that looks transposed is not misdiagnosed") {
    const Matrix S = random_matrix(5, 5, 4);
    CHECK(nn::diagnose(truth_of(S, 7), S).diagnosis == Diagnosis::ok);
    // Symmetric: its transpose is itself, so the right answer must be ok, never "transposed".
    const Matrix sym = S + transposed(S);
    const nn::GradientReport r = nn::diagnose(truth_of(sym, 7), transposed(sym));
    CHECK(r.diagnosis == Diagnosis::ok);
    CHECK(r.also.empty());
    // A symmetric one with a mean factor: the factor alone, not "transposed" too.
    const nn::GradientReport m = nn::diagnose(truth_of(sym, 7), times(7, sym));
    CHECK(m.diagnosis == Diagnosis::missing_mean_factor);
    CHECK(m.also.empty());
}

TEST_CASE("diagnose: missing and extra mean factor, sign, scale") {
    const Matrix E = random_matrix(3, 4, 5);
    const nn::GradientReport missing = nn::diagnose(truth_of(E, 7), times(7, E));
    CHECK(missing.diagnosis == Diagnosis::missing_mean_factor);
    CHECK(missing.factor == 7);
    CHECK(missing.hint.find("yours equals 7 × (dZ1 Xᵀ)") != std::string::npos);
    const nn::GradientReport extra = nn::diagnose(truth_of(E, 7), E / 7.0);
    CHECK(extra.diagnosis == Diagnosis::extra_mean_factor);
    CHECK(nn::diagnose(truth_of(E, 7), -E).diagnosis == Diagnosis::sign_flipped);
    const nn::GradientReport scaled = nn::diagnose(truth_of(E, 7), times(2.5, E));
    CHECK(scaled.diagnosis == Diagnosis::scaled);
    CHECK(scaled.factor == doctest::Approx(2.5));
    CHECK(scaled.hint.find("2.5") != std::string::npos);
    // −n: the 1/n dropped and the sign flipped, both named.
    const nn::GradientReport both = nn::diagnose(truth_of(E, 7), times(-7, E));
    CHECK(both.diagnosis == Diagnosis::missing_mean_factor);
    REQUIRE(both.also.size() == 1);
    CHECK(both.also[0] == Diagnosis::sign_flipped);
}

TEST_CASE("diagnose: with n = 1 the mean factors coincide with ok, and ok is the answer") {
    const Matrix E = random_matrix(3, 4, 6);
    const nn::GradientReport r = nn::diagnose(truth_of(E, 1), times(1.0, E));
    CHECK(r.diagnosis == Diagnosis::ok);
    CHECK(nn::diagnose(truth_of(E, 1), -E).diagnosis == Diagnosis::sign_flipped);
    // A bias with one sample: the per-sample gradient is the summed one, so ok, not not_summed.
    const Matrix dZ = random_matrix(4, 1, 7);
    CHECK(nn::diagnose(bias_truth(dZ, 1), dZ).diagnosis == Diagnosis::ok);
}

TEST_CASE("diagnose: a 1x1 gradient where sign flip and scale -1 coincide is sign_flipped") {
    const Matrix E{{0.37}};
    const nn::GradientReport r = nn::diagnose(truth_of(E, 7), Matrix{{-0.37}});
    CHECK(r.diagnosis == Diagnosis::sign_flipped);
    CHECK(r.also.empty());
    CHECK(nn::diagnose(truth_of(E, 7), Matrix{{0.37 * 7}}).diagnosis == Diagnosis::missing_mean_factor);
    CHECK(nn::diagnose(truth_of(E, 7), Matrix{{0.37 * 3}}).diagnosis == Diagnosis::scaled);
    // A column vector: its transpose has another shape, so no ambiguity with the sign.
    const Matrix v = random_matrix(4, 1, 8);
    CHECK(nn::diagnose(truth_of(v, 7), -v).diagnosis == Diagnosis::sign_flipped);
    CHECK(nn::diagnose(truth_of(v, 7), transposed(v)).diagnosis == Diagnosis::transposed);
}

TEST_CASE("diagnose: a bias gradient left per sample is not_summed") {
    const Matrix dZ = random_matrix(4, 7, 9);
    const nn::GradientReport r = nn::diagnose(bias_truth(dZ, 7), dZ);
    CHECK(r.diagnosis == Diagnosis::not_summed);
    CHECK(r.also.empty());
    CHECK(r.hint.find("add up dZ1 over the 7 samples") != std::string::npos);
    // Per sample and without the 1/n (dZ = A − Y), and per sample but samples as rows.
    const nn::GradientReport unscaled = nn::diagnose(bias_truth(dZ, 7), times(7, dZ));
    CHECK(unscaled.diagnosis == Diagnosis::not_summed);
    CHECK(unscaled.also == std::vector<Diagnosis>{Diagnosis::missing_mean_factor});
    const nn::GradientReport rows = nn::diagnose(bias_truth(dZ, 7), transposed(dZ));
    CHECK(rows.diagnosis == Diagnosis::not_summed);
    CHECK(rows.also == std::vector<Diagnosis>{Diagnosis::transposed});
}

TEST_CASE("diagnose: combined transposed and missing 1/n") {
    const Matrix E = random_matrix(3, 5, 10);
    const nn::GradientReport r = nn::diagnose(truth_of(E, 7), transposed(times(7, E)));
    CHECK(r.diagnosis == Diagnosis::missing_mean_factor);
    CHECK(r.also == std::vector<Diagnosis>{Diagnosis::transposed});
    CHECK(r.diagnosis_text() == "missing_mean_factor + transposed");
}

TEST_CASE("diagnose: wrong_shape names the expected shape — unexplained says where") {
    const Matrix E = random_matrix(3, 4, 11);
    const nn::GradientReport shape = nn::diagnose(truth_of(E, 7), random_matrix(2, 2, 12));
    CHECK(shape.diagnosis == Diagnosis::wrong_shape);
    CHECK(shape.hint.find("which is 3×4; yours is 2×2") != std::string::npos);
    // The transposed shape with values that are not the transpose: still wrong_shape.
    const nn::GradientReport t = nn::diagnose(truth_of(E, 7), random_matrix(4, 3, 13));
    CHECK(t.diagnosis == Diagnosis::wrong_shape);
    CHECK(t.hint.find("the transposed shape") != std::string::npos);

    Matrix off = E;
    off(1, 2) += 0.25;
    off(0, 0) += 0.01;
    const nn::GradientReport u = nn::diagnose(truth_of(E, 7), off);
    CHECK(u.diagnosis == Diagnosis::unexplained);
    CHECK(u.max_abs_error == doctest::Approx(0.25));
    CHECK(u.worst_row == 1);
    CHECK(u.worst_col == 2);
    double scale = 0.0;
    for (double x : E) scale = std::max(scale, std::abs(x));
    CHECK(u.max_rel_error == doctest::Approx(0.25 / scale));
    CHECK(u.hint.find("at (1,2)") != std::string::npos);
    // An all-zero hand gradient is not "scaled by 0", and NaN never crashes.
    CHECK(nn::diagnose(truth_of(E, 7), Matrix(xt::zeros<double>({3, 4}))).diagnosis == Diagnosis::unexplained);
    Matrix nan = E;
    nan(2, 3) = NAN;
    CHECK(nn::diagnose(truth_of(E, 7), nan).diagnosis == Diagnosis::unexplained);
}

TEST_CASE("diagnose: a zero true gradient is matched absolutely") {
    const Matrix zero = xt::zeros<double>({2, 3});
    CHECK(nn::diagnose(truth_of(zero, 7), zero).diagnosis == Diagnosis::ok);
    CHECK(nn::diagnose(truth_of(zero, 7), zero + 1e-3).diagnosis == Diagnosis::unexplained);
}

TEST_CASE("verify_mlp: the slides' formulas (reference_pass) are all ok") {
    const nn::MlpProblem p = slides_problem();
    const nn::ForwardBackward ref = nn::reference_pass(p.W, p.b, p.X, p.Y);
    const std::vector<nn::GradientReport> reports = nn::verify_mlp(
        p, {{"dW1", ref.dW[1]}, {"db1", ref.db[1]}, {"dW2", ref.dW[2]}, {"db2", ref.db[2]}, {"dZ1", ref.dZ[1]},
            {"dA1", ref.dA[1]}, {"dZ2", ref.dZ[2]}, {"dA2", ref.dA[2]}});
    REQUIRE(reports.size() == 8);
    const char* slides_order[] = {"dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"};
    for (std::size_t i = 0; i < 8; ++i) {
        CAPTURE(reports[i].hint);
        CHECK(reports[i].param == slides_order[i]);
        CHECK(reports[i].ok());
    }
}

TEST_CASE("verify_mlp: the slides' classic mistakes on their network") {
    const nn::MlpProblem p = slides_problem();
    const nn::ForwardBackward ref = nn::reference_pass(p.W, p.b, p.X, p.Y);
    const double n = 7;
    auto diagnosis_of = [&](const std::string& name, const Matrix& m) { return nn::verify_mlp(p, one(name, m)).at(0); };

    CHECK(diagnosis_of("dW1", transposed(ref.dW[1])).diagnosis == Diagnosis::transposed);  // Xᵀ dZ1
    CHECK(diagnosis_of("dA2", times(n, ref.dA[2])).diagnosis == Diagnosis::missing_mean_factor);  // the slides' dA2
    const Matrix A2_minus_Y = ref.A[2] - p.Y;  // dZ2 without the 1/n
    CHECK(diagnosis_of("dZ2", A2_minus_Y).diagnosis == Diagnosis::missing_mean_factor);
    CHECK(diagnosis_of("dW2", ref.dW[2] / n).diagnosis == Diagnosis::extra_mean_factor);
    CHECK(diagnosis_of("db2", -ref.db[2]).diagnosis == Diagnosis::sign_flipped);  // 1x1
    CHECK(diagnosis_of("db1", ref.dZ[1]).diagnosis == Diagnosis::not_summed);
    CHECK(diagnosis_of("dW2", times(0.5, ref.dW[2])).diagnosis == Diagnosis::scaled);
    CHECK(diagnosis_of("dW1", random_matrix(10, 10, 14)).diagnosis == Diagnosis::wrong_shape);
    CHECK(diagnosis_of("dW1", ref.dW[1] + 1e-3 * random_matrix(64, 10, 15)).diagnosis == Diagnosis::unexplained);

    // σ'(Z1) forgotten, written out here: dZ2 = (A2 − Y)/n, dA1 = W2ᵀ dZ2, dZ1 = dA1 (no ⊙ A1(1 − A1)).
    const Matrix dZ2 = (ref.A[2] - p.Y) / n;
    const Matrix dZ1_no_sigma = xt::linalg::dot(transposed(p.W[1]), dZ2);
    const Matrix dW1_no_sigma = xt::linalg::dot(dZ1_no_sigma, transposed(p.X));
    const nn::GradientReport r = diagnosis_of("dW1", dW1_no_sigma);
    CHECK(r.diagnosis == Diagnosis::missing_activation_derivative);
    // sigmoid's description in the network's names (A1, Z1), not the generic A, Z.
    CHECK(r.hint.substr(r.hint.find(" — ")) == " — σ'(Z1) = A1 ⊙ (1 − A1) left out: dZ1 = dA1, not dA1 ⊙ A1 ⊙ (1 − A1)");
    CHECK(diagnosis_of("db1", row_sums(dZ1_no_sigma)).diagnosis == Diagnosis::missing_activation_derivative);
    // The output layer's gradients do not involve a hidden σ': dW2 computed "without" it is just right.
    CHECK(diagnosis_of("dW2", xt::linalg::dot(dZ2, transposed(ref.A[1]))).diagnosis == Diagnosis::ok);
}

TEST_CASE("verify_mlp: deeper network with σ' left out of both hidden layers or of one — square W — n = 1") {
    nn::MlpSource source;
    source.sizes = {6, 5, 4, 1};
    source.samples = 9;
    source.seed = 5;
    const nn::MlpProblem p = nn::load_mlp_problem(source);
    const nn::ForwardBackward ref = nn::reference_pass(p.W, p.b, p.X, p.Y);
    const Matrix dZ3 = (ref.A[3] - p.Y) / 9.0;
    const Matrix dZ2 = xt::linalg::dot(transposed(p.W[2]), dZ3);          // no σ'(Z2)
    const Matrix dZ1 = xt::linalg::dot(transposed(p.W[1]), dZ2);          // no σ'(Z1)
    const Matrix dW1 = xt::linalg::dot(dZ1, transposed(p.X));
    CHECK(nn::verify_mlp(p, one("dW1", dW1)).at(0).diagnosis == Diagnosis::missing_activation_derivative);
    // σ'(Z1) alone forgotten (dZ1 = dA1, everything above right): the same diagnosis.
    const Matrix dW1_own = xt::linalg::dot(ref.dA[1], transposed(p.X));
    CHECK(nn::verify_mlp(p, one("dW1", dW1_own)).at(0).diagnosis == Diagnosis::missing_activation_derivative);
    CHECK(nn::verify_mlp(p, one("db2", row_sums(ref.dA[2]))).at(0).diagnosis ==
          Diagnosis::missing_activation_derivative);
    CHECK(nn::verify_mlp(p, one("dW3", ref.dW[3])).at(0).diagnosis == Diagnosis::ok);
    CHECK_THROWS_AS(nn::verify_mlp(p, one("dW4", ref.dW[3])), std::invalid_argument);

    source.sizes = {4, 4, 1};  // W1 is 4x4: its transpose has the same shape
    const nn::MlpProblem square = nn::load_mlp_problem(source);
    const nn::ForwardBackward sq = nn::reference_pass(square.W, square.b, square.X, square.Y);
    CHECK(nn::verify_mlp(square, one("dW1", sq.dW[1])).at(0).diagnosis == Diagnosis::ok);
    CHECK(nn::verify_mlp(square, one("dW1", transposed(sq.dW[1]))).at(0).diagnosis == Diagnosis::transposed);

    const nn::MlpProblem single = slides_problem(1);
    const nn::ForwardBackward s = nn::reference_pass(single.W, single.b, single.X, single.Y);
    for (const auto& r : nn::verify_mlp(single, {{"dW1", s.dW[1]}, {"db1", s.dZ[1]}, {"dZ2", s.A[2] - single.Y}})) {
        CAPTURE(r.param);
        CHECK(r.diagnosis == Diagnosis::ok);  // with n = 1 neither a sum nor a 1/n is missing
    }
}

TEST_CASE("without_activation_derivative equals the hand formula written out in the test") {
    const nn::MlpProblem p = slides_problem();
    const nn::ForwardBackward ref = nn::reference_pass(p.W, p.b, p.X, p.Y);
    const nn::ForwardBackward wrong = nn::without_activation_derivative(p, ref.A);
    const Matrix dZ2 = (ref.A[2] - p.Y) / 7.0;
    const Matrix dZ1 = xt::linalg::dot(transposed(p.W[1]), dZ2);
    CHECK(max_abs_diff(wrong.dW[1], xt::linalg::dot(dZ1, transposed(p.X))) < 1e-12);
    CHECK(max_abs_diff(wrong.db[1], row_sums(dZ1)) < 1e-12);
    CHECK(max_abs_diff(wrong.dW[2], ref.dW[2]) < 1e-12);
}

TEST_CASE("load_mlp_problem refuses bad sources") {
    nn::MlpSource source;
    source.data_dir = "somewhere";
    CHECK_THROWS_AS(nn::load_mlp_problem(source), std::invalid_argument);  // params missing
    nn::MlpSource sizes;
    sizes.sizes = {10};
    CHECK_THROWS_AS(nn::load_mlp_problem(sizes), std::invalid_argument);
    sizes.sizes = {10, 0, 1};
    CHECK_THROWS_AS(nn::load_mlp_problem(sizes), std::invalid_argument);
}
