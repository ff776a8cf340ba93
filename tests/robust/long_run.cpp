// 1e5 training steps of the slides' network on one tape: the resident set size must not grow by
// more than 1 MB after warm-up (Tape::clear() keeps and reuses every buffer).
#include "slides_training.hpp"

#include <cstdio>
#include <fstream>
#include <unistd.h>

namespace {
long resident_kib() {
    std::ifstream statm("/proc/self/statm");
    long pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}
}  // namespace

int main(int argc, char** argv) {
    const long steps = argc > 1 ? std::atol(argv[1]) : 100000;
    matgrad::test::SlidesModel model(3);
    matgrad::Tape tape;
    double first_loss = model.step(tape, 0.5), loss = first_loss;
    for (int s = 1; s < 1000; ++s) loss = model.step(tape, 0.5);  // warm-up
    const long before = resident_kib();
    for (long s = 1000; s < steps; ++s) loss = model.step(tape, 0.5);
    const long after = resident_kib();
    std::printf("%ld steps: loss %.6f -> %.6f, RSS after warm-up %ld KiB, at the end %ld KiB (growth %ld KiB)\n",
                steps, first_loss, loss, before, after, after - before);
    const bool learned = loss < first_loss;
    const bool flat = after - before <= 1024;
    if (!learned) std::printf("FAIL: the loss did not decrease\n");
    if (!flat) std::printf("FAIL: RSS grew by more than 1 MB\n");
    return learned && flat ? 0 : 1;
}
