// The tape's contract: fan-out, intermediates' gradients, zero gradients for unrelated variables,
// no accumulation across backward() calls, reuse after clear(), and every error it must raise.
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <string>
#include <type_traits>

using namespace matgrad;
using matgrad::test::max_abs_diff;
using matgrad::test::random_matrix;

TEST_CASE("fan-out: a node used twice gets both contributions") {
    const GradcheckResult r = gradcheck(
        [](Tape&, const std::vector<Var>& v) {
            const Var y = sigmoid(v[0]);
            return sum(y * y + matmul(y, transpose(y)) + y);
        },
        {random_matrix(3, 3, 1)});
    INFO(r.message);
    CHECK(r.ok);

    Tape t;
    const Matrix x = random_matrix(2, 3, 2);
    const Var X = t.variable(x, "x");
    t.backward(sum(X * X));  // d/dx Σx² = 2x exactly
    CHECK(max_abs_diff(X.grad(), Matrix(2.0 * x)) == 0.0);
}

TEST_CASE("intermediate nodes hold d out / d node") {
    Tape t;
    const Matrix w = random_matrix(3, 4, 3), a = random_matrix(4, 5, 4), r = random_matrix(3, 5, 5);
    const Var W = t.variable(w, "W"), A = t.constant(a, "A");
    const Var Z = matmul(W, A).named("Z");
    const Var S = sigmoid(Z).named("S");
    t.backward(sum(S * t.constant(r)));
    // dS = r; dZ = r ⊙ S(1 - S); dW = dZ Aᵀ -- written out independently with xtensor.
    const Matrix s = S.value();
    const Matrix dz = r * s * (1.0 - s);
    CHECK(max_abs_diff(S.grad(), r) == 0.0);
    CHECK(max_abs_diff(Z.grad(), dz) <= 1e-15);
    Matrix dw = xt::zeros<double>({3, 4});
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 4; ++j)
            for (std::size_t k = 0; k < 5; ++k) dw(i, j) += dz(i, k) * a(j, k);
    CHECK(max_abs_diff(W.grad(), dw) <= 1e-12);
}

TEST_CASE("a variable the output does not depend on gets a zero gradient of its own shape") {
    Tape t;
    const Var used = t.variable(random_matrix(2, 2, 6), "used");
    const Var unused = t.variable(random_matrix(3, 5, 7), "unused");
    t.backward(sum(used));
    REQUIRE(unused.grad().shape() == std::array<std::size_t, 2>{3, 5});
    CHECK(max_abs_diff(unused.grad(), Matrix(xt::zeros<double>({3, 5}))) == 0.0);

    // An output that depends on no variable at all: every variable's gradient is zero.
    Tape t2;
    const Var v = t2.variable(random_matrix(2, 2, 8));
    t2.backward(sum(t2.constant(random_matrix(2, 2, 9))));
    CHECK(max_abs_diff(v.grad(), Matrix(xt::zeros<double>({2, 2}))) == 0.0);
}

TEST_CASE("backward twice recomputes instead of accumulating") {
    Tape t;
    const Matrix x = random_matrix(3, 2, 10);
    const Var X = t.variable(x);
    const Var out = sum(X * X * X);
    t.backward(out);
    const Matrix first = X.grad();
    t.backward(out);
    CHECK(max_abs_diff(X.grad(), first) == 0.0);
    CHECK(max_abs_diff(first, Matrix(3.0 * x * x)) <= 1e-14);
}

TEST_CASE("clear() keeps the tape usable and invalidates old Vars") {
    Tape t;
    for (int step = 0; step < 3; ++step) {
        t.clear();
        const Matrix w = random_matrix(4, 3, 11 + step), x = random_matrix(3, 2 + step, 20 + step);
        const Var W = t.variable(w), X = t.constant(x);
        t.backward(mean(sigmoid(matmul(W, X))));
        Tape fresh;
        const Var W2 = fresh.variable(w), X2 = fresh.constant(x);
        fresh.backward(mean(sigmoid(matmul(W2, X2))));
        CHECK(max_abs_diff(W.grad(), W2.grad()) == 0.0);
        CHECK(t.size() == fresh.size());
    }
    const Var stale = t.node(0);
    t.clear();
    CHECK_FALSE(stale.valid());
    CHECK_THROWS_AS(stale.value(), UsageError);
    CHECK_THROWS_WITH_AS(sigmoid(stale), doctest::Contains("cleared"), UsageError);
}

TEST_CASE("a Var that outlives its tape throws instead of reading freed memory") {
    Var orphan;
    {
        Tape t;
        orphan = t.variable(random_matrix(2, 2, 40), "W");
        CHECK(orphan.valid());
    }
    CHECK_FALSE(orphan.valid());
    CHECK_THROWS_WITH_AS(orphan.value(), doctest::Contains("destroyed"), UsageError);
    CHECK_THROWS_AS(orphan.grad(), UsageError);
    CHECK_THROWS_AS(orphan.name(), UsageError);
    // Combined with a live tape's Var (whose tape may even reuse the freed memory): still an error.
    Tape live;
    const Var x = live.variable(random_matrix(2, 2, 41), "x");
    CHECK_THROWS_AS(x + orphan, UsageError);
    CHECK_THROWS_AS(matmul(orphan, x), UsageError);
    CHECK_THROWS_AS(live.backward(orphan), std::logic_error);
}

TEST_CASE("release() hands leaves back without copies and finishes the graph") {
    Tape t;
    Matrix w = random_matrix(3, 4, 50), x = random_matrix(4, 2, 51);
    const Matrix w0 = w, x0 = x;
    for (int step = 0; step < 3; ++step) {
        t.clear();
        const double* w_buffer = w.data();
        const Var W = t.variable(std::move(w), "W"), X = t.constant(std::move(x), "X");
        CHECK(W.value().data() == w_buffer);  // moved in, not copied
        const Var J = sum(sigmoid(matmul(W, X)));
        t.backward(J);
        w = t.release(W);
        x = t.release(X);
        CHECK(w.data() == w_buffer);  // and moved back out
        // The same graph built from copies gives the same gradient.
        Tape fresh;
        const Var W2 = fresh.variable(w), X2 = fresh.constant(x);
        fresh.backward(sum(sigmoid(matmul(W2, X2))));
        CHECK(max_abs_diff(W.grad(), W2.grad()) == 0.0);  // gradients stay readable
        CHECK_THROWS_WITH_AS(W.value(), doctest::Contains("release()"), UsageError);
        CHECK_THROWS_AS(t.backward(J), UsageError);
        CHECK_THROWS_AS(sigmoid(J), UsageError);
        CHECK_THROWS_AS(t.release(W), UsageError);
    }
    CHECK(max_abs_diff(w, w0) == 0.0);
    CHECK(max_abs_diff(x, x0) == 0.0);
    t.clear();
    const Var W = t.variable(w, "W");
    CHECK_THROWS_WITH_AS(t.release(sigmoid(W)), doctest::Contains("only a constant or variable leaf"),
                         UsageError);
}

TEST_CASE("gradient access errors") {
    Tape t;
    const Var c = t.constant(random_matrix(2, 2, 30), "X");
    const Var v = t.variable(random_matrix(2, 2, 31), "W");
    CHECK_THROWS_WITH_AS(v.grad(), doctest::Contains("no backward()"), UsageError);
    t.backward(sum(c * v));
    CHECK_THROWS_WITH_AS(c.grad(), doctest::Contains("X is a constant"), UsageError);
    CHECK_THROWS_AS(Var().value(), UsageError);
}

TEST_CASE("shape errors name the op, the operands and both shapes") {
    static_assert(std::is_base_of_v<std::invalid_argument, ShapeError>);
    Tape t;
    const Var W1 = t.variable(Matrix(xt::zeros<double>({64, 10})), "W1");
    const Var X = t.constant(Matrix(xt::zeros<double>({7, 10})), "X");
    CHECK_THROWS_WITH_AS(matmul(W1, X),
                         "matmul: W1 is 64x10 but X is 7x10 (inner dimensions 10 and 7 differ)",
                         std::invalid_argument);
    const Var b = t.variable(Matrix(xt::zeros<double>({3, 1})), "b");
    CHECK_THROWS_WITH_AS(W1 + b,
                         "add: W1 is 64x10 but b is 3x1 (not broadcastable: rows 64 and 3 differ "
                         "and neither is 1)",
                         ShapeError);
    CHECK_THROWS_WITH_AS(X * W1, doctest::Contains("mul: X is 7x10 but W1 is 64x10"), ShapeError);
    CHECK_THROWS_WITH_AS(t.backward(W1), doctest::Contains("backward: W1 is 64x10"), ShapeError);
    Tape other;
    const Var foreign = other.variable(Matrix(xt::zeros<double>({64, 10})), "V");
    CHECK_THROWS_WITH_AS(W1 + foreign, doctest::Contains("V (64x10) belongs to a different tape"),
                         ShapeError);
    CHECK_THROWS_AS(t.backward(sum(foreign)), ShapeError);
    CHECK_THROWS_WITH_AS(t.constant(Matrix(xt::zeros<double>({0, 3})), "E"),
                         doctest::Contains("E is empty (0x3)"), ShapeError);
    // An unnamed operand is described by its op.
    CHECK_THROWS_WITH_AS(matmul(sigmoid(X), W1), doctest::Contains("the unnamed sigmoid result"),
                         ShapeError);
}

TEST_CASE("anomaly detection names the op, the node, the position and the input value") {
    Tape t;
    t.set_anomaly_detection(true);
    const Var A2 = t.variable(Matrix{{0.5, 0.25, 0.0, 0.75}}, "A2");
    CHECK_THROWS_WITH_AS(log(A2),
                         "log: the unnamed log result #1 (1x4) has -inf at (0,2) from input 0 = 0",
                         NumericalError);
    t.clear();
    const Var z = t.variable(Matrix{{0.0, 4.0}}, "z");
    CHECK_THROWS_WITH_AS(z / z, doctest::Contains("div: the unnamed div result #1 (1x2) has nan at (0,0)"),
                         NumericalError);

    // Finite forward (1e300), overflowing backward: d/dx of (x 1e300) 1e300 is 1e600.
    t.clear();
    const Var x = t.variable(Matrix{{1e-300}}, "x");
    const Var J = sum((x * 1e300) * 1e300);
    CHECK(std::isfinite(J.value()(0, 0)));
    CHECK_THROWS_WITH_AS(t.backward(J),
                         doctest::Contains("mul backward: the gradient of input 0 (x, 1x1) has inf at (0,0)"),
                         NumericalError);

    t.set_anomaly_detection(false);
    CHECK_NOTHROW(t.backward(J));
    CHECK_NOTHROW(t.variable(Matrix{{0.0}}) / t.constant(0.0));
}

TEST_CASE("ScopedWorkLimits: a node over the size is refused before its value exists, an op or a backward step past the deadline stops") {
    Tape tape;
    const Var x = tape.variable(Matrix(xt::ones<double>({std::size_t{50}, std::size_t{1}})), "x");
    {
        ScopedWorkLimits limits({2000, {}});
        CHECK_THROWS_WITH_AS(matmul(x, transpose(x)), doctest::Contains("50x50 = 2500 elements, more than the limit of 2000"),
                             LimitError);
        CHECK(tape.size() == 2);  // x and its transpose: the product got no node
        {
            ScopedWorkLimits expired({0, std::chrono::steady_clock::now() - std::chrono::seconds(1)});  // nested
            CHECK_THROWS_WITH_AS(x * x, doctest::Contains("time limit"), LimitError);
        }
        // The outer limits are back: no deadline, and small ops run.
        const Var J = sum(x * x);
        tape.backward(J);
        CHECK(J.value()(0, 0) == 50.0);
        ScopedWorkLimits expired({0, std::chrono::steady_clock::now() - std::chrono::seconds(1)});
        CHECK_THROWS_WITH_AS(tape.backward(J), doctest::Contains("time limit"), LimitError);
    }
    // Without limits the product is recorded.
    CHECK(matmul(x, transpose(x)).rows() == 50);
}
