// Training progress on stderr: one updating line with a bar when stderr is a terminal, otherwise
// plain lines (about 20 per run, plus the last epoch) that read well in logs; nothing with --quiet.
#pragma once

#include <chrono>
#include <cstddef>

namespace matgrad::cli {

/// `matgrad --quiet`: progress reporting off for the whole process (main() sets it while parsing,
/// before any command runs).
void set_quiet(bool quiet);
bool quiet();

class TrainingProgress {
public:
    explicit TrainingProgress(std::size_t total_epochs);
    /// Reports a finished epoch (1-based).
    void epoch_done(std::size_t epoch, double loss, double train_accuracy, double test_accuracy);
    /// Ends the updating line (a no-op for plain lines).
    void finish();

private:
    std::size_t total_;
    bool terminal_;
    bool line_open_ = false;
    std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace matgrad::cli
