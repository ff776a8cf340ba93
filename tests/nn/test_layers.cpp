// Linear, MLP, activations and initialization; and training: a small MLP learns a separable set.
#include "test_util.hpp"

#include <nn/nn.hpp>

#include <doctest/doctest.h>

#include <cmath>

using namespace matgrad;
using matgrad::test::max_abs_diff;
using matgrad::test::random_matrix;

TEST_CASE("MLP({10, 64, 1}) records the slides' network with the slides' names") {
    nn::MLP model({10, 64, 1});
    model.init(1);
    Tape tape;
    const Var A2 = model.forward(tape.constant(random_matrix(10, 7, 3), "X"));
    CHECK(A2.name() == "A2");
    CHECK(A2.shape_string() == "1x7");
    std::vector<std::string> names;
    for (std::size_t i = 0; i < tape.size(); ++i)
        if (!tape.node(i).name().empty()) names.push_back(tape.node(i).name());
    CHECK(names == std::vector<std::string>{"X", "W1", "b1", "Z1", "A1", "W2", "b2", "Z2", "A2"});
    CHECK(model.sizes() == std::vector<std::size_t>{10, 64, 1});
}

TEST_CASE("MLP forward, parameters() and gradients() agree with the reference") {
    const Matrix x = random_matrix(5, 12, 40);
    Matrix y({1, 12});
    for (std::size_t k = 0; k < 12; ++k) y(0, k) = double(k % 2);
    nn::MLP model({5, 4, 3, 1});
    model.init(9);
    Tape tape;
    const Var J = nn::binary_cross_entropy(model.forward(tape.constant(x)), tape.constant(y));
    tape.backward(J);

    std::vector<Matrix> W, b;
    for (std::size_t l = 1; l <= model.depth(); ++l) {
        W.push_back(model.layer(l).W);
        b.push_back(model.layer(l).b);
    }
    const nn::ForwardBackward ref = nn::reference_pass(W, b, x, y);
    CHECK(std::abs(J.value()(0, 0) - ref.J) <= 1e-12);
    CHECK(max_abs_diff(model.predict(x), ref.A[3]) <= 1e-12);
    const auto& params = model.parameters();
    const auto& grads = model.gradients();
    REQUIRE(params.size() == 6);
    REQUIRE(grads.size() == 6);
    for (std::size_t l = 1; l <= 3; ++l) {
        CAPTURE(l);
        CHECK(params[2 * l - 2] == &model.layer(l).W);
        CHECK(max_abs_diff(*grads[2 * l - 2], ref.dW[l]) <= 1e-12);
        CHECK(max_abs_diff(*grads[2 * l - 1], ref.db[l]) <= 1e-12);
    }

    tape.clear();
    CHECK_THROWS_AS(model.gradients(), UsageError);  // the tape's Vars are gone
}

TEST_CASE("logits_on_loan: the graph and gradients of logits, the parameters on the tape and taken back unchanged") {
    nn::MLP model({10, 8, 3, 1}, nn::Activation::tanh, nn::Activation::sigmoid);
    model.init(2);
    for (std::size_t l = 1; l <= 3; ++l) model.layer(l).b = random_matrix(model.layer(l).out(), 1, 10 + l);
    const nn::MLP copy = model;
    const Matrix X = random_matrix(10, 5, 4), Y{{1.0, 0.0, 1.0, 1.0, 0.0}};
    Tape copied, lent;
    const Var J = nn::binary_cross_entropy_with_logits(model.logits(copied.constant(X, "X")), copied.constant(Y));
    copied.backward(J);
    std::vector<Matrix> gradients;
    for (const Matrix* g : model.gradients()) gradients.push_back(*g);

    const Var X_lent = lent.constant(X, "X");
    const Var Z_lent = model.logits_on_loan(X_lent);
    const Var J_lent = nn::binary_cross_entropy_with_logits(Z_lent, lent.constant(Y));
    CHECK(model.layer(1).W.size() == 0);  // moved onto the tape, not copied
    CHECK(lent.node(1).name() == "W1");
    CHECK(lent.node(1).value() == copy.layer(1).W);
    lent.backward(J_lent);
    model.take_back_parameters();
    CHECK(J_lent.value() == J.value());
    for (std::size_t l = 1; l <= 3; ++l) {
        CHECK(model.layer(l).W == copy.layer(l).W);
        CHECK(model.layer(l).b == copy.layer(l).b);
    }
    const std::vector<const Matrix*>& after = model.gradients();  // still readable after the release
    REQUIRE(after.size() == gradients.size());
    for (std::size_t i = 0; i < after.size(); ++i) CHECK(*after[i] == gradients[i]);
    model.take_back_parameters();  // nothing on loan: does nothing
    CHECK(model.layer(3).b == copy.layer(3).b);
}

TEST_CASE("MLP from given parameters checks their shapes") {
    CHECK_THROWS_WITH_AS(nn::MLP({Matrix(xt::zeros<double>({4, 3})), Matrix(xt::zeros<double>({1, 5}))},
                                 {Matrix(xt::zeros<double>({4, 1})), Matrix(xt::zeros<double>({1, 1}))}),
                         "W2 is 1x5 but A1 has 4 rows", std::invalid_argument);
    CHECK_THROWS_AS(nn::MLP(std::vector<std::size_t>{10}), std::invalid_argument);
    nn::MLP model({3, 2});
    CHECK_THROWS_AS(model.predict(Matrix(xt::zeros<double>({4, 2}))), std::invalid_argument);
}

TEST_CASE("relu and tanh: values and gradcheck") {
    Tape tape;
    const Var x = tape.variable(Matrix{{-1.5, 0.0, 2.0}});
    CHECK(max_abs_diff(relu(x).value(), Matrix{{0.0, 0.0, 2.0}}) == 0.0);
    CHECK(max_abs_diff(tanh(x).value(), Matrix{{std::tanh(-1.5), 0.0, std::tanh(2.0)}}) == 0.0);
    const Matrix away_from_kink{{-1.5, 0.3, 2.0}, {0.7, -0.2, -3.0}};
    for (nn::Activation f : {nn::Activation::relu, nn::Activation::tanh, nn::Activation::sigmoid}) {
        CAPTURE(nn::activation_name(f));
        const GradcheckResult r = gradcheck(
            [f](Tape&, const std::vector<Var>& in) { return sum(nn::activate(f, in[0]) * in[0]); }, {away_from_kink});
        INFO(r.message);
        CHECK(r.ok);
    }
    CHECK(nn::parse_activation("relu") == nn::Activation::relu);
    CHECK_THROWS_WITH_AS(nn::parse_activation("elu"),
                         "unknown activation 'elu' (expected sigmoid, relu, tanh or identity)", std::invalid_argument);
}

TEST_CASE("initialization is seeded and has the documented scale") {
    nn::MLP a({200, 300, 1}), b({200, 300, 1}), c({200, 300, 1}, nn::Activation::relu);
    a.init(5);
    b.init(5);
    c.init(5);
    CHECK(max_abs_diff(a.layer(1).W, b.layer(1).W) == 0.0);
    b.init(6);
    CHECK(max_abs_diff(a.layer(1).W, b.layer(1).W) > 0.1);

    // Xavier uniform on a 300x200 W: |w| <= sqrt(6 / 500), variance limit² / 3 = 2 / 500.
    const Matrix& xavier = a.layer(1).W;
    const double limit = std::sqrt(6.0 / 500.0);
    double max_abs = 0.0, sum_sq = 0.0;
    for (double w : xavier) {
        max_abs = std::max(max_abs, std::abs(w));
        sum_sq += w * w;
    }
    CHECK(max_abs <= limit);
    CHECK(sum_sq / double(xavier.size()) == doctest::Approx(2.0 / 500.0).epsilon(0.03));
    CHECK(max_abs_diff(a.layer(1).b, Matrix(xt::zeros<double>({300, 1}))) == 0.0);

    // He normal for the relu hidden layer: variance 2 / in = 2 / 200. The output layer stays Xavier.
    double he_sum_sq = 0.0;
    for (double w : c.layer(1).W) he_sum_sq += w * w;
    CHECK(he_sum_sq / double(c.layer(1).W.size()) == doctest::Approx(2.0 / 200.0).epsilon(0.03));
    for (double w : c.layer(2).W) CHECK(std::abs(w) <= std::sqrt(6.0 / 301.0));
}

TEST_CASE("a trained MLP separates a linearly separable set (> 0.95 accuracy)") {
    // 400 points in 2-D labelled by the side of the line x0 + 0.5 x1 = 0.2, with a margin.
    const Matrix raw = random_matrix(2, 600, 77);
    std::vector<std::size_t> keep;
    for (std::size_t j = 0; j < raw.shape(1) && keep.size() < 400; ++j)
        if (std::abs(raw(0, j) + 0.5 * raw(1, j) - 0.2) > 0.1) keep.push_back(j);
    REQUIRE(keep.size() == 400);
    Matrix x({2, 400}), y({1, 400});
    for (std::size_t k = 0; k < 400; ++k) {
        x(0, k) = raw(0, keep[k]);
        x(1, k) = raw(1, keep[k]);
        y(0, k) = raw(0, keep[k]) + 0.5 * raw(1, keep[k]) > 0.2 ? 1.0 : 0.0;
    }

    for (const bool use_adam : {true, false}) {
        CAPTURE(use_adam);
        nn::MLP model({2, 8, 1});
        model.init(3);
        nn::Adam adam(0.05);
        nn::SGD sgd(2.0);
        nn::Optimizer& optimizer = use_adam ? static_cast<nn::Optimizer&>(adam) : sgd;
        const double before = nn::accuracy(model.predict(x), y);
        Tape tape;
        double first_loss = 0.0, last_loss = 0.0;
        for (int step = 0; step < 300; ++step) {
            tape.clear();
            const Var J = nn::binary_cross_entropy_with_logits(model.logits(tape.constant(x)), tape.constant(y));
            tape.backward(J);
            optimizer.step(model.parameters(), model.gradients());
            (step == 0 ? first_loss : last_loss) = J.value()(0, 0);
        }
        const double after = nn::accuracy(model.predict(x), y);
        MESSAGE("accuracy ", before, " -> ", after, ", loss ", first_loss, " -> ", last_loss);
        CHECK(after > 0.95);
        CHECK(last_loss < 0.5 * first_loss);
    }
}

TEST_CASE("check_binary_labels and check_finite name the first bad element") {
    CHECK_NOTHROW(nn::check_binary_labels(Matrix{{0, 1, 1, 0}}));
    CHECK_THROWS_WITH_AS(nn::check_binary_labels(Matrix{{0, 1, 1, 0.5}}), "Y(0,3) = 0.5 is not 0 or 1",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(nn::check_finite(Matrix{{0, 1}, {NAN, 0}}, "X"), "X(1,0) is nan", std::invalid_argument);
    CHECK_THROWS_WITH_AS(nn::check_finite(Matrix{{0, -INFINITY}}, "W1"), "W1(0,1) is infinite", std::invalid_argument);
}
