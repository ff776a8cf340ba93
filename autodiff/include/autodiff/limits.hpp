// Limits on the work the calling thread's tapes may do: for a server answering untrusted requests
// (matgrad serve), where one request must neither allocate a huge matrix nor run for minutes.
//
//     ScopedWorkLimits limits({10'000'000, std::chrono::steady_clock::now() + std::chrono::seconds(10)});
//     ... record, backward, verify: a node over the size, or any op after the deadline, throws LimitError
//
// The checks are cooperative: every node recorded (before its value is allocated) and every step
// of a reverse pass checks them, so a request stops at the first op past its deadline; a single op
// already running is not interrupted (its size is bounded by max_node_elements).
#pragma once

#include <chrono>
#include <cstddef>
#include <stdexcept>

namespace matgrad {

/// A node larger than WorkLimits::max_node_elements, or an op after WorkLimits::deadline.
class LimitError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// What one thread's tapes may do while a ScopedWorkLimits is alive.
struct WorkLimits {
    /// Largest value a recorded node may have (rows x cols); 0: only the engine's own limit.
    std::size_t max_node_elements = 0;
    /// No op starts after this time (the default, the clock's epoch, means no deadline).
    std::chrono::steady_clock::time_point deadline{};
};

/// Sets the calling thread's limits for its lifetime (nested: the previous ones come back).
class ScopedWorkLimits {
public:
    /// Makes `limits` (copied) the calling thread's limits.
    explicit ScopedWorkLimits(const WorkLimits& limits);
    /// Restores the limits there were before.
    ~ScopedWorkLimits();
    ScopedWorkLimits(const ScopedWorkLimits&) = delete;             ///< bound to its thread and scope
    ScopedWorkLimits& operator=(const ScopedWorkLimits&) = delete;  ///< bound to its thread and scope

private:
    WorkLimits limits_;
    const WorkLimits* previous_;
};

namespace detail {
/// The calling thread's limits (null: none), read by the tape at every node.
extern thread_local const WorkLimits* thread_work_limits;
/// Throws LimitError when `rows` x `cols` exceeds the limits' node size or the deadline has passed.
void check_work_limits(const WorkLimits& limits, const char* op, std::size_t rows, std::size_t cols);
}  // namespace detail

}  // namespace matgrad
