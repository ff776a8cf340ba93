// Autodiff against the slides' hand-derived backward pass (reference_pass), on every intermediate
// (Z, A, dZ, dA, dW, db and J) to 1e-12: the slides' network and random networks of depth 1-4 with
// layer sizes 1..100 and 1..300 samples. The reference itself is checked against finite differences.
#include "test_util.hpp"

#include <nn/nn.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>

using namespace matgrad;
using matgrad::test::max_abs_diff;
using matgrad::test::random_matrix;

namespace {

struct Network {
    std::vector<Matrix> W, b;
    Matrix X, Y;
};

/// sizes = {inputs, hidden..., outputs}; weights N(0, 1/in) so that sigmoids do not saturate.
Network random_network(const std::vector<std::size_t>& sizes, std::size_t samples, unsigned seed) {
    Network net;
    net.X = random_matrix(sizes.front(), samples, seed);
    for (std::size_t l = 1; l < sizes.size(); ++l) {
        net.W.push_back(random_matrix(sizes[l], sizes[l - 1], seed + 10 * l) / std::sqrt(double(sizes[l - 1])));
        net.b.push_back(0.1 * random_matrix(sizes[l], 1, seed + 10 * l + 1));
    }
    std::mt19937 coin(seed);
    net.Y = Matrix({sizes.back(), samples});
    for (double& y : net.Y) y = double(coin() % 2);
    return net;
}

void check_same_intermediates(const nn::ForwardBackward& ad, const nn::ForwardBackward& ref, double tol) {
    REQUIRE(ad.depth() == ref.depth());
    CHECK(std::abs(ad.J - ref.J) <= tol);
    CHECK(max_abs_diff(ad.A[0], ref.A[0]) == 0.0);
    const std::pair<const char*, std::vector<Matrix> nn::ForwardBackward::*> lists[] = {
        {"Z", &nn::ForwardBackward::Z},   {"A", &nn::ForwardBackward::A},   {"dZ", &nn::ForwardBackward::dZ},
        {"dA", &nn::ForwardBackward::dA}, {"dW", &nn::ForwardBackward::dW}, {"db", &nn::ForwardBackward::db}};
    for (std::size_t l = 1; l <= ref.depth(); ++l)
        for (const auto& [name, list] : lists) {
            INFO(name << l << ": autodiff " << (ad.*list)[l].shape(0) << "x" << (ad.*list)[l].shape(1)
                      << ", reference " << (ref.*list)[l].shape(0) << "x" << (ref.*list)[l].shape(1));
            CHECK(max_abs_diff((ad.*list)[l], (ref.*list)[l]) <= tol);
        }
}

}  // namespace

TEST_CASE("slides' network: autodiff equals the hand-derived reference on every intermediate") {
    Network net = random_network({10, 64, 1}, 7, 300);
    net.Y = Matrix{{1, 0, 1, 1, 0, 0, 1}};
    const nn::ForwardBackward ref = nn::reference_pass(net.W, net.b, net.X, net.Y);
    const nn::ForwardBackward ad = nn::autodiff_pass(net.W, net.b, net.X, net.Y);
    check_same_intermediates(ad, ref, 1e-12);

    // The slides' shapes.
    CHECK(ref.Z[1].shape() == std::array<std::size_t, 2>{64, 7});
    CHECK(ref.dW[1].shape() == std::array<std::size_t, 2>{64, 10});
    CHECK(ref.db[1].shape() == std::array<std::size_t, 2>{64, 1});
    CHECK(ref.dA[2].shape() == std::array<std::size_t, 2>{1, 7});
    CHECK(ref.dW[2].shape() == std::array<std::size_t, 2>{1, 64});
    CHECK(ref.db[2].shape() == std::array<std::size_t, 2>{1, 1});
    CHECK(ref.dZ[0].size() == 0);
}

TEST_CASE("random depths 1-4, sizes 1..100, samples 1..300: autodiff equals the reference") {
    std::mt19937 rng(2024);
    auto pick = [&](std::size_t lo, std::size_t hi) { return lo + rng() % (hi - lo + 1); };
    std::vector<std::pair<std::vector<std::size_t>, std::size_t>> configs = {
        {{1, 1}, 1},                    // the smallest network: every dimension 1
        {{100, 100, 100, 100, 1}, 300},  // the largest: depth 4, size 100, 300 samples
        {{3, 2, 3}, 5},                  // several outputs
    };
    for (std::size_t depth = 1; depth <= 4; ++depth)
        for (int repeat = 0; repeat < 3; ++repeat) {
            std::vector<std::size_t> sizes;
            for (std::size_t l = 0; l < depth; ++l) sizes.push_back(pick(1, 100));
            sizes.push_back(1);
            configs.emplace_back(sizes, pick(1, 300));
        }
    unsigned seed = 1;
    for (const auto& [sizes, samples] : configs) {
        std::string shape;
        for (std::size_t s : sizes) shape += std::to_string(s) + " ";
        CAPTURE(shape);
        CAPTURE(samples);
        const Network net = random_network(sizes, samples, seed += 100);
        check_same_intermediates(nn::autodiff_pass(net.W, net.b, net.X, net.Y),
                                 nn::reference_pass(net.W, net.b, net.X, net.Y), 1e-12);
    }
}

TEST_CASE("the reference's J and dW, db agree with central finite differences") {
    const Network net = random_network({4, 5, 3, 1}, 6, 77);
    const nn::ForwardBackward ref = nn::reference_pass(net.W, net.b, net.X, net.Y);
    std::vector<Matrix> params;
    for (std::size_t l = 0; l < net.W.size(); ++l) {
        params.push_back(net.W[l]);
        params.push_back(net.b[l]);
    }
    const GraphBuilder loss = nn::mlp_loss(net.X, net.Y);
    // J by its definition, element by element.
    double j = 0.0;
    for (std::size_t k = 0; k < net.Y.size(); ++k) {
        const double a = ref.A[3].data()[k], y = net.Y.data()[k];
        j -= (y * std::log(a) + (1 - y) * std::log(1 - a)) / double(net.Y.size());
    }
    CHECK(ref.J == doctest::Approx(j).epsilon(1e-14));
    for (std::size_t l = 1; l <= 3; ++l) {
        CAPTURE(l);
        CHECK(max_abs_diff(ref.dW[l], numerical_gradient(loss, params, 2 * l - 2)) <= 1e-8);
        CHECK(max_abs_diff(ref.db[l], numerical_gradient(loss, params, 2 * l - 1)) <= 1e-8);
    }
}

TEST_CASE("shapes that do not chain are named in the error") {
    const Network net = random_network({10, 64, 1}, 7, 5);
    auto message = [&](std::vector<Matrix> W, std::vector<Matrix> b, Matrix X, Matrix Y) {
        try {
            nn::reference_pass(W, b, X, Y);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(message({net.W[0], Matrix(xt::zeros<double>({1, 32}))}, net.b, net.X, net.Y) ==
          "W2 is 1x32 but A1 has 64 rows");
    CHECK(message(net.W, {net.b[0], Matrix(xt::zeros<double>({2, 1}))}, net.X, net.Y) ==
          "b2 is 2x1 but W2 has 1 row (b2 must be 1x1)");
    CHECK(message(net.W, net.b, Matrix(xt::zeros<double>({9, 7})), net.Y) ==
          "W1 is 64x10 but X has 9 rows (X is features x samples)");
    CHECK(message(net.W, net.b, net.X, Matrix(xt::zeros<double>({1, 6}))) ==
          "Y is 1x6 but A2 is 1x7 (one label per output and sample)");
    CHECK(message(net.W, {net.b[0]}, net.X, net.Y) ==
          "2 weight matrices but 1 bias: every layer needs one W and one b");
    CHECK(message({}, {}, net.X, net.Y) == "an MLP needs at least one layer, but there is no W1");
    CHECK_THROWS_AS(nn::autodiff_pass({net.W[0], Matrix(xt::zeros<double>({1, 32}))}, net.b, net.X, net.Y),
                    std::invalid_argument);
}
