// libFuzzer target: io::parse_csv on arbitrary bytes must return a valid table or throw
// io::InputError -- never crash, leak, read out of bounds or throw anything else.
#include <nn/io.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const matgrad::io::CsvTable t =
            matgrad::io::parse_csv({reinterpret_cast<const char*>(data), size}, "fuzz.csv");
        // What the reader promises for an accepted table.
        if (t.header.empty() || t.values.shape(1) != t.header.size() || t.values.shape(0) == 0)
            std::abort();
        for (const std::string& name : t.header)
            if (name.empty()) std::abort();
        for (const double v : t.values)
            if (!std::isfinite(v)) std::abort();
    } catch (const matgrad::io::InputError&) {
    }
    return 0;
}
