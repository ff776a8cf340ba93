// libFuzzer target: io::parse_csv (the one-pass CsvReader) on arbitrary bytes must return a valid
// table or throw io::InputError -- never crash, leak, read out of bounds or throw anything else --
// and reading the rows in blocks must give the same table as reading them at once.
#include <nn/io.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const matgrad::io::CsvTable t = matgrad::io::parse_csv(text, "fuzz.csv");
        // What the reader promises for an accepted table: one row per column, one column per row.
        if (t.header.empty() || t.values.shape(0) != t.header.size() || t.values.shape(1) == 0) std::abort();
        for (const std::string& name : t.header)
            if (name.empty()) std::abort();
        for (const double v : t.values)
            if (!std::isfinite(v)) std::abort();

        // The same rows two at a time, the first column dropped.
        matgrad::io::CsvReader reader(text, "fuzz.csv");
        matgrad::Matrix blocks({t.header.size(), t.values.shape(1)});
        std::vector<matgrad::io::ColumnTarget> targets{{}};
        for (std::size_t c = 1; c < t.header.size(); ++c) targets.push_back({&blocks, c});
        std::size_t n = 0;
        while (const std::size_t got = reader.read(targets, n, std::min<std::size_t>(2, t.values.shape(1) - n)))
            n += got;
        if (n != t.values.shape(1)) std::abort();
        for (std::size_t c = 1; c < t.header.size(); ++c)
            for (std::size_t j = 0; j < n; ++j)
                if (blocks(c, j) != t.values(c, j)) std::abort();
    } catch (const matgrad::io::InputError&) {
    }
    return 0;
}
