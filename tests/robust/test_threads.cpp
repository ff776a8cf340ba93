// Tapes are independent: one tape per thread trains its own model with results identical, bit for
// bit, to the same training run alone. Run under ThreadSanitizer in CI (.ci/run).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "slides_training.hpp"

#include <thread>
#include <vector>

using namespace matgrad;

namespace {
Matrix train(unsigned seed, int steps) {
    test::SlidesModel model(seed);
    Tape tape;
    for (int s = 0; s < steps; ++s) model.step(tape, 0.5);
    return model.w1;
}
}  // namespace

TEST_CASE("four threads train four models on four tapes without interference") {
    const int steps = 200;
    std::vector<Matrix> alone;
    for (unsigned t = 0; t < 4; ++t) alone.push_back(train(10 * t + 1, steps));

    std::vector<Matrix> threaded(4);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 4; ++t)
        threads.emplace_back([&threaded, t, steps] { threaded[t] = train(10 * t + 1, steps); });
    for (auto& th : threads) th.join();

    for (unsigned t = 0; t < 4; ++t) CHECK(test::max_abs_diff(threaded[t], alone[t]) == 0.0);
    CHECK(test::max_abs_diff(alone[0], alone[1]) > 0.0);  // the runs really differ
}
