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

namespace {

/// Redraw at most 20 times a second: fast progress should not be slowed by the terminal.
bool time_to_draw(std::chrono::steady_clock::time_point& last_draw, bool line_open) {
    const auto now = std::chrono::steady_clock::now();
    if (line_open && now - last_draw < std::chrono::milliseconds(50)) return false;
    last_draw = now;
    return true;
}

std::string bar(double fraction) {
    constexpr std::size_t width = 24;
    const auto filled = static_cast<std::size_t>(static_cast<double>(width) * std::clamp(fraction, 0.0, 1.0));
    return std::string(filled, '#') + std::string(width - filled, '.');
}

}  // namespace

ReadingProgress::ReadingProgress(std::string file, std::string verb)
    : file_(std::move(file)), verb_(std::move(verb)), shown_(!quiet_flag && ::isatty(STDERR_FILENO) == 1) {}

void ReadingProgress::update(double fraction) {
    if (!shown_ || !time_to_draw(last_draw_, line_open_)) return;
    std::fprintf(stderr, "\r%s %s [%s] %3.0f%%\x1b[K", verb_.c_str(), file_.c_str(), bar(fraction).c_str(), 100.0 * fraction);
    std::fflush(stderr);
    line_open_ = true;
}

ReadingProgress::~ReadingProgress() {
    if (line_open_) std::fputs("\r\x1b[K", stderr);
}

void TrainingProgress::epoch_done(std::size_t epoch, double loss, double train_metric, double test_metric) {
    const char* metric = metric_.c_str();
    if (quiet_flag) return;
    if (terminal_) {
        if (!time_to_draw(last_draw_, line_open_) && epoch != total_) return;
        // "\r" returns to the start of the line, "\x1b[K" erases what a longer line left behind.
        std::fprintf(stderr, "\repoch %zu/%zu [%s] loss %.4f  train %s %.3f  test %s %.3f\x1b[K", epoch, total_,
                     bar(static_cast<double>(epoch) / static_cast<double>(std::max<std::size_t>(total_, 1))).c_str(),
                     loss, metric, train_metric, metric, test_metric);
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
