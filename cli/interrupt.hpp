// Ctrl-C during a long run (train, fit): SIGINT sets a flag that the loop checks after every step,
// so the run stops cleanly and still writes what it has.
#pragma once

#include <csignal>

namespace matgrad::cli {

/// Set by SIGINT while an InterruptGuard is alive.
inline volatile std::sig_atomic_t interrupt_requested = 0;
extern "C" inline void request_interrupt(int) { interrupt_requested = 1; }

/// Installs the SIGINT handler for its lifetime and restores the previous one afterwards.
class InterruptGuard {
public:
    InterruptGuard() {
        interrupt_requested = 0;
        struct sigaction action {};
        action.sa_handler = request_interrupt;
        sigemptyset(&action.sa_mask);
        sigaction(SIGINT, &action, &previous_);
    }
    ~InterruptGuard() { sigaction(SIGINT, &previous_, nullptr); }
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

private:
    struct sigaction previous_ {};
};

}  // namespace matgrad::cli
