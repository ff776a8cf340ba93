// libFuzzer target: io::parse_csv (the one-pass CsvReader) on arbitrary bytes must return a valid
// table or throw io::InputError -- never crash, leak, read out of bounds or throw anything else --
// reading the rows in blocks must give the same table as reading them at once, and one input in
// four (by a hash of its bytes), read from a file a window of a few bytes at a time, the same table
// or message as in memory.
#include <nn/io.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>

#include <unistd.h>

namespace {

/// The table, or the error's message, of reading `read`.
std::string outcome(const std::function<matgrad::io::CsvTable()>& read, matgrad::io::CsvTable& table) {
    try {
        table = read();
        return "ok";
    } catch (const matgrad::io::InputError& e) {
        return e.what();
    }
}

/// The text as a file read a window of a few bytes at a time (records, numbers, quotes and line
/// ends cut anywhere) must give what it gives in memory: the same table or the same message.
void check_windowed_file(std::string_view text) {
    static const struct Scratch {  // one file, rewritten for every input, removed at exit
        std::string path = "/tmp/matgrad_fuzz_csv_" + std::to_string(::getpid()) + ".csv";
        ~Scratch() { std::remove(path.c_str()); }
    } scratch;
    const std::string& path = scratch.path;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    matgrad::io::CsvTable whole, windowed;
    const std::string expected = outcome([&] { return matgrad::io::parse_csv(text, path); }, whole);
    const std::string got = outcome([&] {
        matgrad::io::CsvReader reader(path, 1 + text.size() % 7);
        matgrad::io::CsvTable t{reader.header(), matgrad::Matrix({reader.header().size(), std::size_t{0}})};
        std::vector<matgrad::io::ColumnTarget> targets;
        for (std::size_t c = 0; c < t.header.size(); ++c) targets.push_back({&t.values, c});
        reader.read_all(targets);
        return t;
    }, windowed);
    if (got != expected) std::abort();
    if (got == "ok" && (windowed.header != whole.header || windowed.values != whole.values)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    // Writing the file costs 10x the rest of a run: one input in four (by its bytes, so a run is
    // reproducible) is also read from a file in windows.
    if (std::hash<std::string_view>{}(text) % 4 == 0) check_windowed_file(text);
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
