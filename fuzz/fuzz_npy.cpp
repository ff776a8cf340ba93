// libFuzzer target: io::parse_npy on arbitrary bytes must return a valid matrix or throw
// io::InputError -- never crash, leak, read out of bounds or throw anything else.
#include <nn/io.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const matgrad::Matrix m =
            matgrad::io::parse_npy({reinterpret_cast<const char*>(data), size}, "fuzz.npy");
        // What the reader promises for an accepted array.
        if (m.shape(0) == 0 || m.shape(1) == 0) std::abort();
        for (const double v : m)
            if (!std::isfinite(v)) std::abort();
    } catch (const matgrad::io::InputError&) {
    }
    return 0;
}
