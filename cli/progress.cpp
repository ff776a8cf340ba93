#include "progress.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>

#include <unistd.h>

namespace matgrad::cli {

namespace {
bool quiet_flag = false;
}  // namespace

void set_quiet(bool quiet) { quiet_flag = quiet; }
bool quiet() { return quiet_flag; }

TrainingProgress::TrainingProgress(std::size_t total_epochs, std::string metric)
    : total_(total_epochs), metric_(std::move(metric)), terminal_(::isatty(STDERR_FILENO) == 1) {}

void TrainingProgress::epoch_done(std::size_t epoch, double loss, double train_metric, double test_metric) {
    const char* metric = metric_.c_str();
    if (quiet_flag) return;
    if (terminal_) {
        // Redraw at most 20 times a second: a fast epoch should not be slowed by the terminal.
        const auto now = std::chrono::steady_clock::now();
        if (line_open_ && epoch != total_ && now - last_draw_ < std::chrono::milliseconds(50)) return;
        last_draw_ = now;
        constexpr std::size_t width = 24;
        const std::size_t filled = width * epoch / std::max<std::size_t>(total_, 1);
        const std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
        // "\r" returns to the start of the line, "\x1b[K" erases what a longer line left behind.
        std::fprintf(stderr, "\repoch %zu/%zu [%s] loss %.4f  train %s %.3f  test %s %.3f\x1b[K", epoch, total_,
                     bar.c_str(), loss, metric, train_metric, metric, test_metric);
        line_open_ = true;
    } else {
        const std::size_t every = std::max<std::size_t>(1, total_ / 20);
        if (epoch % every != 0 && epoch != total_ && epoch != 1) return;
        std::fprintf(stderr, "epoch %zu/%zu  loss %.4f  train %s %.3f  test %s %.3f\n", epoch, total_, loss,
                     metric, train_metric, metric, test_metric);
    }
    std::fflush(stderr);
}

void TrainingProgress::finish() {
    if (line_open_) std::fputc('\n', stderr);
    line_open_ = false;
}

}  // namespace matgrad::cli
