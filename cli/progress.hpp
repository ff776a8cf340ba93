// Training progress on stderr: one updating line with a bar when stderr is a terminal, otherwise
// plain lines (about 20 per run, plus the last epoch) that read well in logs; nothing with --quiet.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace matgrad::cli {

/// `matgrad --quiet`: progress reporting off for the whole process (main() sets it while parsing,
/// before any command runs).
void set_quiet(bool quiet);
bool quiet();

class TrainingProgress {
public:
    /// `metric` names the task's metric in the line: "acc" or "R2" (the words the result line uses).
    TrainingProgress(std::size_t total_epochs, std::string metric);
    /// Reports a finished epoch (1-based) with the task's metric on the training and test rows.
    void epoch_done(std::size_t epoch, double loss, double train_metric, double test_metric);
    /// Ends the updating line (a no-op for plain lines).
    void finish();

private:
    std::size_t total_;
    std::string metric_;
    bool terminal_;
    bool line_open_ = false;
    std::chrono::steady_clock::time_point last_draw_{};
};

/// "reading FILE [####....] 45%" on stderr while a CSV is read (or another verb: "converting"),
/// when stderr is a terminal and not --quiet (plain output gets nothing: a log has the result
/// lines), erased when done.
class ReadingProgress {
public:
    explicit ReadingProgress(std::string file, std::string verb = "reading");
    /// Reports the share of the file read so far (0 to 1).
    void update(double fraction);
    /// Erases the line.
    ~ReadingProgress();

private:
    std::string file_, verb_;
    bool shown_;
    bool line_open_ = false;
    std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace matgrad::cli
