// Counts heap allocations: the global operator new / delete of the executable that includes this
// header are replaced by malloc / free plus a counter. Include it in exactly ONE translation unit of
// an executable (tests/robust/long_run.cpp, bench/bench_mlp.cpp). xtensor allocates through
// std::allocator, i.e. operator new, so every matrix buffer is counted.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace matgrad::test {

/// operator new calls so far in this process (all forms: plain, array, aligned, nothrow).
inline std::atomic<std::size_t> allocations{0};

inline void* counted_alloc(std::size_t size, std::size_t alignment) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (size == 0) size = 1;
    void* p = nullptr;
    if (alignment <= alignof(std::max_align_t)) p = std::malloc(size);
    else if (posix_memalign(&p, alignment, size) != 0) p = nullptr;
    return p;
}

}  // namespace matgrad::test

void* operator new(std::size_t size) {
    if (void* p = matgrad::test::counted_alloc(size, 0)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, std::align_val_t al) {
    if (void* p = matgrad::test::counted_alloc(size, static_cast<std::size_t>(al))) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size, std::align_val_t al) { return operator new(size, al); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return matgrad::test::counted_alloc(size, 0); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return matgrad::test::counted_alloc(size, 0); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
