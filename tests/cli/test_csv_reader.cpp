// The one-pass CSV reader against the reader it replaced (old_csv_reader.cpp): on the data sets,
// the fuzzer's seed corpus, hand-written edge cases and many seeded random texts, both accept with
// the same numbers (by column now) or both refuse with the same message. Also the reader's own
// promises: blocks of rows, columns into several matrices, a wrong guess of the row count; and the
// .npy cache of a CSV (<nn/csv_cache.hpp>).
#include "old_csv_reader.hpp"

#include <nn/csv_cache.hpp>
#include <nn/io.hpp>
#include <nn/train.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace matgrad;

namespace {

std::string file_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

/// "ok" and the matrix, or the error message.
std::string outcome(const std::function<io::CsvTable()>& read, io::CsvTable& table) {
    try {
        table = read();
        return "ok";
    } catch (const io::InputError& e) {
        return e.what();
    }
}

/// Both readers on `text`: the same message, or the same header and numbers (the new by column).
void check_same_as_old(const std::string& text) {
    io::CsvTable old_table, new_table;
    const std::string old_outcome = outcome([&] { return io::oracle::parse_csv_by_rows(text, "d.csv"); }, old_table);
    const std::string new_outcome = outcome([&] { return io::parse_csv(text, "d.csv"); }, new_table);
    INFO("text: ", text);
    REQUIRE(new_outcome == old_outcome);
    if (old_outcome != "ok") return;
    REQUIRE(new_table.header == old_table.header);
    REQUIRE(new_table.values.shape(0) == old_table.values.shape(1));
    REQUIRE(new_table.values.shape(1) == old_table.values.shape(0));
    for (std::size_t r = 0; r < old_table.values.shape(0); ++r)
        for (std::size_t c = 0; c < old_table.values.shape(1); ++c)
            REQUIRE(new_table.values(c, r) == old_table.values(r, c));
}

/// `text` read from a file a window of `window` bytes at a time, as read_csv reads it.
io::CsvTable read_windowed(const std::string& path, std::size_t window) {
    io::CsvReader reader(path, window);
    io::CsvTable table{reader.header(), Matrix({reader.header().size(), std::size_t{0}})};
    std::vector<io::ColumnTarget> targets;
    for (std::size_t c = 0; c < table.header.size(); ++c) targets.push_back({&table.values, c});
    reader.read_all(targets);
    return table;
}

/// `text` from a file read in windows of a few bytes (so that records, numbers, quotes and line
/// ends are cut at every place) gives what it gives in memory: the same message, or the same table.
void check_windows_change_nothing(const std::string& text) {
    static const struct Scratch {  // one file, rewritten for every text, removed at exit
        std::string path = (std::filesystem::temp_directory_path() /
                            ("matgrad_window_" + std::to_string(::getpid()) + ".csv")).string();
        ~Scratch() { std::filesystem::remove(path); }
    } scratch;
    const std::string& path = scratch.path;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    io::CsvTable whole, windowed;
    const std::string whole_outcome = outcome([&] { return io::parse_csv(text, path); }, whole);
    for (const std::size_t window : {1, 2, 3, 7, 64}) {
        const std::string windowed_outcome = outcome([&] { return read_windowed(path, window); }, windowed);
        INFO("text: ", text, " window: ", window);
        REQUIRE(windowed_outcome == whole_outcome);
        if (whole_outcome != "ok") continue;
        REQUIRE(windowed.header == whole.header);
        REQUIRE(windowed.values == whole.values);
        REQUIRE(io::CsvReader(path, window).rows_bound() == io::CsvReader(text, path).rows_bound());
    }
}

std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir, const std::string& extension) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        if (entry.path().extension() == extension) files.push_back(entry.path());
    return files;
}

}  // namespace

TEST_CASE("the one-pass reader reads every data set and seed as the old reader did") {
    std::size_t files = 0;
    for (const auto& dir : {std::filesystem::path(MATGRAD_DATA_DIR), std::filesystem::path(MATGRAD_FUZZ_CSV_CORPUS)})
        for (const auto& path : files_in(dir, ".csv")) {
            check_same_as_old(file_text(path));
            check_windows_change_nothing(file_text(path));
            ++files;
        }
    CHECK(files >= 8);  // 3 data sets, 5 seeds
    // The file path (a window at a time) gives what the in-memory one gives.
    const std::string wine = std::string(MATGRAD_DATA_DIR) + "/wine.csv";
    const io::CsvTable from_file = io::read_csv(wine), in_memory = io::parse_csv(file_text(wine), wine);
    CHECK(from_file.header == in_memory.header);
    CHECK(from_file.values == in_memory.values);
}

TEST_CASE("the one-pass reader refuses and accepts the edge cases as the old reader did") {
    const std::vector<std::string> cases = {
        "", "\n\n  \n", "a,b\n", "a,b\n\n\n", "a,b\n1,2", "a,b\n1,2\n", "a,b\r\n1,2\r\n", "\xEF\xBB\xBF" "a,b\n1,2\n",
        "a,b\n1,2\n\n3,4\n", "a,b\n1,2\n  \n", "a,b\n1,2\n \t\n\n", "a,b\n1\n", "a,b\n1,2,3\n", "a,b\n1,x\n",
        "a,b\n1,\n", "a,b\n1,nan\n", "a,b\n1,inf\n", "a,b\n1,1e999\n", "a,b\n+1,-+2\n", "a,b\n+-1,2\n",
        "a,b\n 1 , 2 \n", "a,b\n\"1\",\" 2 \"\n", "a,b\n\"1\" ,2\n", "a,b\n\"1\"x,2\n", "a,b\n1\"2,3\n",
        "a,b\n\"1,2\n", "\"a\nb\",c\n1,2\n", "a,b\n\"1\n\",2\n", "a,b\n\"1\"\r2,3\n", "a,b\n\"1\"\r\"2\"\r\"3\"\n",
        "a,b\n1,2\r3,4\n", "a,b\n1,2\r\n\r\n", "a,b\n1,2\r", ",a,b\n0,1,2\n", "Unnamed: 0,a\n0,1\n",
        "a,a\n1,2\n", "1,2\n3,4\n", "a,,b\n1,2,3\n", "a,b\n1,x,3\n\"\n", "a,a\n1,2\n\"", "a,b\n\n1,\"\n",
        "a,b\n1,x\n1,2,3\n", "a,b\n1,0x10\n", "a,b\n1,1e-400\n", "a,b\n1,2 3\n", "a,b\n1,\"\"\n", "a\n1\n",
        "a\n\"\"\n", "a,b\n,\n", "a,b\n1,2\n,\n", "a,b\n1,2\n\"\"\n", "a,b\n1,2\n \" \" \n", "\"\"\n1\n"};
    for (const std::string& text : cases) {
        check_same_as_old(text);
        check_windows_change_nothing(text);
    }
}

TEST_CASE("the one-pass reader agrees with the old reader on seeded random texts") {
    // Short texts from the characters that matter to the tokenizer and the number parser.
    const std::string alphabet = "01234.,\n\r\" \t+-eExna";
    std::mt19937_64 rng(22);
    for (int i = 0; i < 20000; ++i) {
        std::string text = i % 2 ? "a,b\n" : "";
        const std::size_t length = rng() % 24;
        for (std::size_t k = 0; k < length; ++k) text += alphabet[rng() % alphabet.size()];
        check_same_as_old(text);
        if (i % 8 == 0) check_windows_change_nothing(text);
    }
}

TEST_CASE("plain decimals (the reader's fast path) are read as strtod reads them, bit for bit") {
    // Random "[-]digits[.digits]" of 0..21 digits before and 0..25 after the point -- on both sides
    // of the fast path's limits (19 digits, 2^53, 22 after the point) -- and the limits themselves.
    std::vector<std::string> cells = {"9007199254740992", "9007199254740993", "-9007199254740992.5",
                                      "0.1",  "-0",  ".5",  "5.",  "-.5",  "0.0000000000000000000001",
                                      "0.00000000000000000000001", "1234567890123456789", "12345678901234567890",
                                      "1.7976931348623157", "00000000000000000001.5"};
    std::mt19937_64 rng(7);
    auto digits = [&](std::size_t count) {
        std::string d;
        for (std::size_t k = 0; k < count; ++k) d += static_cast<char>('0' + rng() % 10);
        return d;
    };
    while (cells.size() < 100000) {
        std::string cell = rng() % 2 ? "-" : "";
        cell += digits(rng() % 22);
        if (rng() % 4) cell += "." + digits(rng() % 26);
        if (cell.find_first_of("0123456789") == std::string::npos) cell += "7";
        cells.push_back(cell);
    }
    std::string text = "x\n";
    for (const std::string& cell : cells) text += cell + "\n";
    const io::CsvTable table = io::parse_csv(text, "d.csv");
    REQUIRE(table.values.shape(1) == cells.size());
    std::size_t differing = 0;
    for (std::size_t k = 0; k < cells.size(); ++k) {
        const double expected = std::strtod(cells[k].c_str(), nullptr);
        if (std::memcmp(&expected, &table.values(0, k), sizeof expected) != 0 && ++differing <= 5)
            FAIL_CHECK(cells[k] << ": read as " << table.values(0, k) << ", strtod gives " << expected);
    }
    CHECK(differing == 0);
}

TEST_CASE("CsvReader reads blocks of rows into the matrices and rows it is given") {
    const std::string text = "x1,skip,x2,y\n1,10,2,0\n3,30,4,1\n\"5\",50,6,0\n7,70,8,1\n9,90,10,0\n\n";
    for (std::size_t block = 1; block <= 6; ++block) {
        io::CsvReader reader(text, "d.csv");
        Matrix X({std::size_t{2}, std::size_t{5}}), y({std::size_t{1}, std::size_t{5}});
        const std::vector<io::ColumnTarget> targets{{&X, 0}, {}, {&X, 1}, {&y, 0}};
        std::size_t n = 0;
        while (const std::size_t got = reader.read(targets, n, std::min(block, 5 - n))) n += got;
        CHECK(n == 5);
        CHECK(reader.rows_read() == 5);
        CHECK(reader.read(targets, 0, 5) == 0);
        CHECK(X == Matrix{{1, 3, 5, 7, 9}, {2, 4, 6, 8, 10}});
        CHECK(y == Matrix{{0, 1, 0, 1, 0}});
    }
    // An error in a later block names its own line.
    io::CsvReader reader("a\n1\n2\nx\n", "d.csv");
    Matrix m({std::size_t{1}, std::size_t{2}});
    CHECK(reader.read({{&m, 0}}, 0, 2) == 2);
    CHECK_THROWS_WITH_AS(reader.read({{&m, 0}}, 0, 2), "d.csv: line 4, column 1 (a): 'x' is not a number",
                         io::InputError);
}

TEST_CASE("CsvReader skips a column marked skip unread, text and empty cells too, and words the other errors as before") {
    const std::string text = "name,x\nAnn,1\n\"Doe, Jane\",2\n,3\nNaN,4\n";
    const auto read = [](const std::string& csv, const std::vector<io::ColumnTarget>& targets, Matrix& m) {
        io::CsvReader reader(csv, "d.csv");
        return reader.read(targets, 0, m.shape(1));
    };
    Matrix x({std::size_t{1}, std::size_t{4}});
    const std::vector<io::ColumnTarget> skipped{{nullptr, 0, true}, {&x, 0}};
    CHECK(read(text, skipped, x) == 4);
    CHECK(x == Matrix{{1, 2, 3, 4}});
    // Unmarked, the same column is still checked as numbers.
    CHECK_THROWS_WITH_AS(read(text, {{}, {&x, 0}}, x), "d.csv: line 2, column 1 (name): 'Ann' is not a number",
                         io::InputError);
    CHECK_THROWS_WITH_AS(read("name,x\nAnn,y\n", skipped, x), "d.csv: line 2, column 2 (x): 'y' is not a number",
                         io::InputError);
    CHECK_THROWS_WITH_AS(read("name,x\nAnn\n", skipped, x), "d.csv: line 2: has 1 fields but the header has 2",
                         io::InputError);
    CHECK_THROWS_WITH_AS(read("name,x\nA\"nn,1\n", skipped, x),
                         "d.csv: line 2: a quote inside an unquoted field 'A\"nn'; quote the whole field, with \"\" for a quote inside",
                         io::InputError);
    CHECK_THROWS_AS(read(text, {{&x, 0, true}, {&x, 0}}, x), std::invalid_argument);
}

TEST_CASE("read_all copes with more rows than lines") {
    // Records separated by a lone '\r' after a quote: the bound from the line count is too small
    // and the matrices grow.
    const io::CsvTable more = io::parse_csv("a\n\"1\"\r\"2\"\r\"3\"\r\"4\"\n", "d.csv");
    CHECK(more.values == Matrix{{1, 2, 3, 4}});
}

TEST_CASE("read_csv reads a file larger than its first block, and a pipe") {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                      ("matgrad_csv_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "big.csv").string();
    std::string text = "a,b\n";
    for (int i = 0; i < 200000; ++i) text += std::to_string(i) + "," + std::to_string(i % 7) + ".5\n";
    std::ofstream(path, std::ios::binary) << text;
    const io::CsvTable t = io::read_csv(path);
    REQUIRE(t.values.shape(1) == 200000);
    CHECK(t.values(0, 199999) == 199999.0);
    CHECK(t.values(1, 199999) == 199999 % 7 + 0.5);
    std::filesystem::remove_all(dir);

    // A pipe cannot be mapped: it is read whole, with the same result.
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const std::string small = "a,b\n1,2\n3,4\n";
    REQUIRE(::write(fds[1], small.data(), small.size()) == static_cast<ssize_t>(small.size()));
    ::close(fds[1]);
    const io::CsvTable piped = io::read_csv("/proc/self/fd/" + std::to_string(fds[0]));
    ::close(fds[0]);
    CHECK(piped.values == io::parse_csv(small, "d.csv").values);
}

TEST_CASE("read_csv_cached writes the .npy cache, reads it while the CSV is unchanged, remakes it when it changes") {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                      ("matgrad_cache_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string csv = (dir / "d.csv").string(), cache = io::csv_cache_path(csv);
    CHECK(cache == csv + ".npy");
    Matrix m;
    const auto choose = [&](const std::vector<std::string>& header) {
        m = Matrix({header.size(), std::size_t{0}});
        std::vector<io::ColumnTarget> targets;
        for (std::size_t c = 0; c < header.size(); ++c) targets.push_back({&m, c});
        return targets;
    };
    const auto write_csv = [&](const std::string& text, long long mtime_s) {
        std::ofstream(csv, std::ios::binary | std::ios::trunc) << text;
        const timespec times[2] = {{mtime_s, 0}, {mtime_s, 0}};
        REQUIRE(::utimensat(AT_FDCWD, csv.c_str(), times, 0) == 0);
    };

    write_csv("a,b,y\n1,2,0\n3,4,1\n", 1000000000);
    CHECK(io::read_csv_cached(csv, choose) == io::CacheUse::written);
    CHECK(m == Matrix{{1, 3}, {2, 4}, {0, 1}});
    // numpy's layout: a (rows, columns) array in Fortran order, so each column's values in a run.
    const std::string bytes = file_text(cache);
    REQUIRE(bytes.rfind("\x93NUMPY\x01", 0) == 0);
    CHECK(bytes.find("'fortran_order': True, 'shape': (2, 3)") != std::string::npos);
    REQUIRE(bytes.size() == 128 + 6 * sizeof(double));
    double third;
    std::memcpy(&third, bytes.data() + 128 + 2 * sizeof(double), sizeof third);
    CHECK(third == 2.0);

    // Unchanged CSV: the cache is what is read (a value changed in it shows).
    CHECK(io::read_csv_cached(csv, choose) == io::CacheUse::read);
    CHECK(m == Matrix{{1, 3}, {2, 4}, {0, 1}});
    {
        std::fstream edit(cache, std::ios::binary | std::ios::in | std::ios::out);
        const double changed = 9.0;
        edit.seekp(128);
        edit.write(reinterpret_cast<const char*>(&changed), sizeof changed);
    }
    CHECK(io::read_csv_cached(csv, choose) == io::CacheUse::read);
    CHECK(m(0, 0) == 9.0);

    // Another size, or the same size with another modification time: read again, cache remade.
    write_csv("a,b,y\n1,2,0\n3,4,1\n5,6,0\n", 1000000000);
    CHECK(io::read_csv_cached(csv, choose) == io::CacheUse::written);
    CHECK(m == Matrix{{1, 3, 5}, {2, 4, 6}, {0, 1, 0}});
    write_csv("a,b,y\n7,2,0\n3,4,1\n5,6,0\n", 1000000001);
    CHECK(io::read_csv_cached(csv, choose) == io::CacheUse::written);
    CHECK(m(0, 0) == 7.0);
    CHECK(io::read_csv_cached(csv, choose) == io::CacheUse::read);

    // A damaged cache or record is made again, not an error.
    std::filesystem::resize_file(cache, 100);
    CHECK(io::read_csv_cached(csv, choose) == io::CacheUse::written);
    std::ofstream(cache + ".json", std::ios::trunc) << "{";
    CHECK(io::read_csv_cached(csv, choose) == io::CacheUse::written);
    CHECK(m(0, 0) == 7.0);

    // A bad CSV throws read_csv's error and leaves no cache; a dropped column writes none.
    std::filesystem::remove(cache);
    std::filesystem::remove(cache + ".json");
    write_csv("a,b,y\n1,x,0\n", 1000000002);
    CHECK_THROWS_WITH_AS(io::read_csv_cached(csv, choose), (csv + ": line 2, column 2 (b): 'x' is not a number").c_str(),
                         io::InputError);
    CHECK(!std::filesystem::exists(cache));
    write_csv("a,b,y\n1,2,0\n", 1000000003);
    const auto drop_first = [&](const std::vector<std::string>& header) {
        std::vector<io::ColumnTarget> targets = choose(header);
        targets[0] = {};
        return targets;
    };
    CHECK(io::read_csv_cached(csv, drop_first) == io::CacheUse::not_written);
    CHECK(!std::filesystem::exists(cache));
    std::filesystem::remove_all(dir);
}

TEST_CASE("convert_csv_to_cache writes a block of rows at a time the cache read_csv's values make, and CacheFile reads it") {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                      ("matgrad_convert_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string csv = (dir / "d.csv").string(), cache = io::csv_cache_path(csv);
    // 1500 rows of 1100 columns: the conversion's blocks hold 1024 rows of this width, so the
    // second block is a partial one.
    const std::size_t rows = 1500, cols = 1100;
    {
        std::ostringstream text;
        for (std::size_t c = 0; c < cols; ++c) text << (c ? "," : "") << "c" << c;
        text << "\n";
        for (std::size_t r = 0; r < rows; ++r) {
            for (std::size_t c = 0; c < cols; ++c) text << (c ? "," : "") << (r * 7 + c * 13) % 1000 / 8.0;
            text << "\n";
        }
        std::ofstream(csv, std::ios::binary) << text.str();
    }
    const Matrix values = io::read_csv(csv).values;
    CHECK(io::convert_csv_to_cache(csv) == io::CacheUse::written);
    const std::string bytes = file_text(cache);
    CHECK(bytes.find("'fortran_order': True, 'shape': (1500, 1100)") != std::string::npos);
    const std::size_t data_offset = bytes.size() - rows * cols * sizeof(double);
    CHECK(std::memcmp(bytes.data() + data_offset, values.data(), rows * cols * sizeof(double)) == 0);
    CHECK(io::convert_csv_to_cache(csv) == io::CacheUse::read);
    {
        const io::CacheFile file(csv);
        CHECK(file.rows() == rows);
        CHECK(file.header().size() == cols);
        Matrix last({1, 1}), across({1, 2});  // the last value; two rows across the conversion's blocks
        std::vector<io::ColumnTarget> targets(cols);
        targets[1099] = {&last, 0};
        file.read_rows(1499, 1500, targets);
        CHECK(last(0, 0) == values(1099, 1499));
        targets[1099] = {};
        targets[3] = {&across, 0};
        file.read_rows(1023, 1025, targets);
        CHECK(across == Matrix{{values(3, 1023), values(3, 1024)}});
    }
    // The cache read_csv_cached writes and reads is the same file.
    Matrix m;
    const auto choose = [&](const std::vector<std::string>& header) {
        m = Matrix({header.size(), std::size_t{0}});
        std::vector<io::ColumnTarget> targets;
        for (std::size_t c = 0; c < header.size(); ++c) targets.push_back({&m, c});
        return targets;
    };
    CHECK(io::read_csv_cached(csv, choose) == io::CacheUse::read);
    CHECK(m == values);
    CHECK(io::csv_size(csv).rows == rows);
    CHECK(io::csv_size(csv).cached);

    // A changed CSV: the cache is no longer opened, and converted again.
    const timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
    REQUIRE(::utimensat(AT_FDCWD, csv.c_str(), times, 0) == 0);
    CHECK_THROWS_WITH_AS(io::CacheFile{csv}, (cache + ": is not a current cache of " + csv +
                                              " (convert_csv_to_cache makes it)").c_str(), io::InputError);
    CHECK(!io::csv_size(csv).cached);
    CHECK(io::convert_csv_to_cache(csv) == io::CacheUse::written);

    // More records than line breaks (a lone '\r' after a quoted field ends one): a second pass.
    std::ofstream(csv, std::ios::binary | std::ios::trunc) << "a,b\n\"1\",\"2\"\r\"3\",\"4\"\n5,6\n";
    CHECK(io::csv_size(csv).rows == 2);  // the line count, before conversion
    CHECK(io::convert_csv_to_cache(csv) == io::CacheUse::written);
    CHECK(io::csv_size(csv).rows == 3);
    const io::CacheFile three(csv);
    Matrix both({2, 3});
    three.read_rows(0, 3, {{&both, 0}, {&both, 1}});
    CHECK(both == Matrix{{1, 3, 5}, {2, 4, 6}});

    // A bad cell: read_csv's error, and no cache.
    std::filesystem::remove(cache);
    std::filesystem::remove(cache + ".json");
    std::ofstream(csv, std::ios::binary | std::ios::trunc) << "a,b\n1,2\n3,x\n";
    CHECK_THROWS_WITH_AS(io::convert_csv_to_cache(csv), (csv + ": line 3, column 2 (b): 'x' is not a number").c_str(),
                         io::InputError);
    CHECK(!std::filesystem::exists(cache));
    std::filesystem::remove_all(dir);

    // A pipe is not read by csv_size: it could be read only once, and train reads it next.
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const std::string small = "a,b\n1,2\n";
    REQUIRE(::write(fds[1], small.data(), small.size()) == static_cast<ssize_t>(small.size()));
    ::close(fds[1]);
    const std::string piped = "/proc/self/fd/" + std::to_string(fds[0]);
    CHECK(io::csv_size(piped).rows == 0);
    CHECK(io::read_csv(piped).values == Matrix{{1.0}, {2.0}});
    ::close(fds[0]);
}

TEST_CASE("CacheFile reads chosen rows of chosen columns with pread and calls a cache truncated meanwhile an input error") {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                      ("matgrad_cache_file_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string csv = (dir / "d.csv").string(), cache = io::csv_cache_path(csv);
    std::ofstream(csv, std::ios::binary) << "a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n";
    REQUIRE(io::convert_csv_to_cache(csv) == io::CacheUse::written);
    const io::CacheFile file(csv);
    CHECK(file.header() == std::vector<std::string>{"a", "b", "y"});
    CHECK(file.rows() == 4);
    // Rows 1 and 2 of columns b and a into rows 0 and 1 of a matrix with room to spare; y not read.
    Matrix into = xt::zeros<double>({2, 3});
    file.read_rows(1, 3, {{&into, 1}, {&into, 0}, {}});
    CHECK(into == Matrix{{4, 6, 0}, {3, 5, 0}});

    // The cache shrinks after it was opened (another run remaking it, a full disk): the next read
    // is short, which names the file instead of dying of SIGBUS as a mapping would.
    std::filesystem::resize_file(cache, std::filesystem::file_size(cache) - 3 * sizeof(double));
    Matrix column({1, 4});
    file.read_rows(0, 4, {{}, {&column, 0}, {}});  // column b is still whole
    CHECK(column == Matrix{{2, 4, 6, 8}});
    CHECK_THROWS_WITH_AS(file.read_rows(0, 4, {{}, {}, {&column, 0}}),
                         (cache + ": was truncated while being read; run again (the cache is then made again from the "
                                  "CSV)").c_str(),
                         io::InputError);
    // As does a training from it.
    std::filesystem::resize_file(cache, 200);
    nn::TrainOptions options;
    options.epochs = 1;
    CHECK_THROWS_WITH_AS(nn::train(file, 2, options, std::size_t{1} << 30),
                         doctest::Contains((cache + ": was truncated while being read").c_str()), io::InputError);
    std::filesystem::remove_all(dir);
}

TEST_CASE("a CSV that shrinks while CsvReader reads it is an input error naming it, not a crash") {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                      ("matgrad_csv_truncated_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string csv = (dir / "d.csv").string();
    std::string text = "a,b\n";
    for (int r = 0; r < 1000; ++r) text += std::to_string(r) + "," + std::to_string(2 * r) + "\n";
    std::ofstream(csv, std::ios::binary) << text;
    io::CsvReader reader(csv, 256);  // a window of 256 bytes: most of the file is read later
    REQUIRE(reader.rows_bound() == 1000);
    Matrix values({2, 1000});
    const std::vector<io::ColumnTarget> targets{{&values, 0}, {&values, 1}};
    REQUIRE(reader.read(targets, 0, 10) == 10);
    CHECK(values(1, 9) == 18.0);
    // Another program rewrites the file meanwhile: it is shorter now. Through a mapping, touching
    // its lost pages killed the process with SIGBUS.
    std::filesystem::resize_file(csv, text.size() / 2);
    CHECK_THROWS_WITH_AS(reader.read(targets, 10, 990),
                         (csv + ": was truncated while being read; run again once it is complete").c_str(),
                         io::InputError);
    std::filesystem::remove_all(dir);
}
