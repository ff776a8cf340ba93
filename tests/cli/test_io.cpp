// Unit tests of matgrad::io: .npy reading (every accepted dtype/order converted to known values,
// every refusal with its message), the CSV reader, and the atomic writers.
#include "cli_test_util.hpp"

#include <nn/io.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

using namespace matgrad;
using namespace matgrad::test;

namespace {

/// The InputError message of parse_npy on `bytes` ("" if it parses).
std::string npy_error(const std::string& bytes) {
    try {
        io::parse_npy(bytes, "A.npy");
    } catch (const io::InputError& e) {
        return e.what();
    }
    return "";
}

std::string csv_error(const std::string& text) {
    try {
        io::parse_csv(text, "d.csv");
    } catch (const io::InputError& e) {
        return e.what();
    }
    return "";
}

void check_2x3_is_1_to_6(const Matrix& m) {
    REQUIRE(m.shape(0) == 2);
    REQUIRE(m.shape(1) == 3);
    for (std::size_t r = 0; r < 2; ++r)
        for (std::size_t c = 0; c < 3; ++c) CHECK(m(r, c) == static_cast<double>(1 + 3 * r + c));
}

/// The values 1..6 stored as T with `descr` read back as the 2x3 matrix of 1..6.
template <class T>
void check_integers(const char* descr, bool big_endian) {
    CAPTURE(descr);
    const std::vector<T> v{1, 2, 3, 4, 5, 6};
    check_2x3_is_1_to_6(io::parse_npy(npy_bytes(npy_header(descr, false, "(2, 3)"), raw_bytes(v, big_endian)), "A.npy"));
}

}  // namespace

TEST_CASE("write_npy then read_npy gives back every bit, in numpy's v1.0 layout") {
    ScratchDir dir("npy-roundtrip");
    Matrix m = {{1.0, -2.5, 1e-300}, {std::numeric_limits<double>::max(), 0.1, -0.0}};
    io::write_npy(dir / "m.npy", m);
    const std::string bytes = read_file(dir / "m.npy");
    CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
    const std::size_t header_length = static_cast<unsigned char>(bytes[8]) + 256u * static_cast<unsigned char>(bytes[9]);
    CHECK((10 + header_length) % 64 == 0);
    CHECK(bytes.find("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }") == 10);
    CHECK(bytes.size() == 10 + header_length + 6 * 8);
    const Matrix back = io::read_npy(dir / "m.npy");
    REQUIRE(back.shape(0) == 2);
    REQUIRE(back.shape(1) == 3);
    CHECK(std::memcmp(back.data(), m.data(), 6 * sizeof(double)) == 0);
    CHECK(dir.entries() == std::vector<std::string>{"m.npy"});  // no temporary file left behind
}

TEST_CASE("read_npy converts other dtypes, byte orders and Fortran order exactly") {
    const std::string shape = "(2, 3)";
    SUBCASE("float32") {
        const std::vector<float> v{0.1f, -2.5f, 3e-38f, 16777217.0f, 1.0f / 3.0f, -0.0f};
        const Matrix m = io::parse_npy(npy_bytes(npy_header("<f4", false, shape), raw_bytes(v)), "A.npy");
        for (std::size_t k = 0; k < 6; ++k) CHECK(m(k / 3, k % 3) == static_cast<double>(v[k]));
    }
    SUBCASE("big-endian float64") {
        const std::vector<double> v{1, 2, 3, 4, 5, 6};
        check_2x3_is_1_to_6(io::parse_npy(npy_bytes(npy_header(">f8", false, shape), raw_bytes(v, true)), "A.npy"));
    }
    SUBCASE("Fortran order: columns stored one after the other") {
        const std::vector<double> v{1, 4, 2, 5, 3, 6};
        check_2x3_is_1_to_6(io::parse_npy(npy_bytes(npy_header("<f8", true, shape), raw_bytes(v)), "A.npy"));
    }
    SUBCASE("big-endian float32 in Fortran order") {
        const std::vector<float> v{1, 4, 2, 5, 3, 6};
        check_2x3_is_1_to_6(io::parse_npy(npy_bytes(npy_header(">f4", true, shape), raw_bytes(v, true)), "A.npy"));
    }
    SUBCASE("every integer width, signed and unsigned, both byte orders") {
        check_integers<std::int8_t>("|i1", false);
        check_integers<std::uint8_t>("|u1", false);
        check_integers<std::int16_t>(">i2", true);
        check_integers<std::uint16_t>("<u2", false);
        check_integers<std::int32_t>("<i4", false);
        check_integers<std::uint32_t>(">u4", true);
        check_integers<std::int64_t>(">i8", true);
        check_integers<std::uint64_t>("<u8", false);
    }
    SUBCASE("negative and large 64-bit integers that doubles hold exactly") {
        const std::vector<std::int64_t> v{-128, -1, std::int64_t{1} << 53, std::int64_t{1} << 62,
                                          std::numeric_limits<std::int64_t>::min(), 0};
        const Matrix m = io::parse_npy(npy_bytes(npy_header("<i8", false, shape), raw_bytes(v)), "A.npy");
        CHECK(m(0, 0) == -128.0);
        CHECK(m(0, 1) == -1.0);
        CHECK(m(0, 2) == 9007199254740992.0);
        CHECK(m(1, 0) == 4611686018427387904.0);
        CHECK(m(1, 1) == -9223372036854775808.0);
    }
    SUBCASE("bool") {
        const Matrix m = io::parse_npy(npy_bytes(npy_header("|b1", false, "(1, 3)"), std::string("\1\0\1", 3)), "A.npy");
        CHECK(m(0, 0) == 1.0);
        CHECK(m(0, 1) == 0.0);
        CHECK(m(0, 2) == 1.0);
    }
    SUBCASE("format versions 2 and 3, double-quoted keys, Python 2 long dimensions") {
        const std::vector<double> v{1, 2, 3, 4, 5, 6};
        for (int version : {2, 3})
            check_2x3_is_1_to_6(io::parse_npy(npy_bytes(npy_header("<f8", false, shape), raw_bytes(v), version), "A.npy"));
        check_2x3_is_1_to_6(io::parse_npy(
            npy_bytes("{\"shape\": (2L, 3L), \"fortran_order\": False, \"descr\": \"<f8\"}", raw_bytes(v)), "A.npy"));
    }
}

TEST_CASE("read_npy refuses what it cannot convert exactly, naming the file and the problem") {
    const std::vector<double> six{1, 2, 3, 4, 5, 6};
    CHECK(npy_error("PK\3\4 a zip file, not npy") == "A.npy: not a .npy file (it does not start with \\x93NUMPY)");
    CHECK(npy_error("") .find("not a .npy file") != std::string::npos);
    std::string v4 = npy_bytes(npy_header("<f8", false, "(2, 3)"), raw_bytes(six));
    v4[6] = 4;
    CHECK(npy_error(v4).find("unsupported .npy format version 4.0") != std::string::npos);
    CHECK(npy_error(npy_bytes(npy_header("<f8", false, "(10, 7)"), std::string(312, '\0'))) ==
          "A.npy: truncated: header says 10x7 float64 (560 bytes of data) but the file has 312");
    CHECK(npy_error(npy_bytes(npy_header("<f8", false, "(2, 3)"), raw_bytes(six) + "x")).find("1 bytes more") != std::string::npos);
    const std::string whole = npy_bytes(npy_header("<f8", false, "(2, 3)"), raw_bytes(six));
    CHECK(npy_error(whole.substr(0, 40)).find("truncated: the header should be") != std::string::npos);
    CHECK(npy_error(whole.substr(0, 9)).find("truncated in the .npy preamble") != std::string::npos);
    CHECK(npy_error(npy_bytes(npy_header("<f8", false, "(4611686018427387904, 4611686018427387904)"), ""))
              .find("truncated: header says") != std::string::npos);

    CHECK(npy_error(npy_bytes(npy_header("<c16", false, "(1, 1)"), std::string(16, '\0'))).find("(complex)") != std::string::npos);
    CHECK(npy_error(npy_bytes(npy_header("|O", false, "(1, 1)"), std::string(8, '\0'))).find("Python objects") != std::string::npos);
    CHECK(npy_error(npy_bytes(npy_header("<U5", false, "(1, 1)"), std::string(20, '\0'))).find("(strings)") != std::string::npos);
    CHECK(npy_error(npy_bytes(npy_header("<f2", false, "(1, 1)"), std::string(2, '\0'))).find("float16") != std::string::npos);
    CHECK(npy_error(npy_bytes(npy_header("<f16", false, "(1, 1)"), std::string(16, '\0'))).find("extended precision") != std::string::npos);
    CHECK(npy_error(npy_bytes("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1, 1), }", std::string(8, '\0')))
              .find("structured dtypes") != std::string::npos);

    CHECK(npy_error(npy_bytes(npy_header("<f8", false, "(6,)"), raw_bytes(six))) ==
          "A.npy: is 1-D with 6 values; matgrad needs a 2-D array: a column 6x1 (a.reshape(-1, 1), e.g. a bias) or a "
          "row 1x6 (a.reshape(1, -1)), whichever the model declares");  // it told a 64x1 bias to be 1x64
    CHECK(npy_error(npy_bytes(npy_header("<f8", false, "()"), raw_bytes(std::vector<double>{1}))).find("0-D scalar") != std::string::npos);
    CHECK(npy_error(npy_bytes(npy_header("<f8", false, "(1, 2, 3)"), raw_bytes(six))).find("is 3-D (1x2x3)") != std::string::npos);
    CHECK(npy_error(npy_bytes(npy_header("<f8", false, "(0, 3)"), "")).find("is empty (0x3)") != std::string::npos);

    const std::vector<double> with_nan{1, 2, std::nan(""), 4, 5, 6};
    CHECK(npy_error(npy_bytes(npy_header("<f8", false, "(2, 3)"), raw_bytes(with_nan))).find("element (0,2) of the 2x3 float64 array is NaN or Inf") != std::string::npos);
    const std::vector<float> with_inf{1, 2, 3, 4, 5, std::numeric_limits<float>::infinity()};
    CHECK(npy_error(npy_bytes(npy_header("<f4", true, "(2, 3)"), raw_bytes(with_inf))).find("element (1,2)") != std::string::npos);
    const std::vector<std::int64_t> inexact{(std::int64_t{1} << 53) + 1};
    CHECK(npy_error(npy_bytes(npy_header("<i8", false, "(1, 1)"), raw_bytes(inexact))).find("cannot be represented exactly") != std::string::npos);
    const std::vector<std::uint64_t> too_big{std::numeric_limits<std::uint64_t>::max()};
    CHECK(npy_error(npy_bytes(npy_header("<u8", false, "(1, 1)"), raw_bytes(too_big))).find("cannot be represented exactly") != std::string::npos);
    CHECK(npy_error(npy_bytes(npy_header("|b1", false, "(1, 1)"), "\2")).find("not a valid bool byte") != std::string::npos);

    CHECK(npy_error(npy_bytes("{'descr': '<f8', 'shape': (1, 1), }", std::string(8, '\0'))).find("must have the keys") != std::string::npos);
    CHECK(npy_error(npy_bytes("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1, 1)}", std::string(8, '\0'))).find("appears twice") != std::string::npos);
    CHECK(npy_error(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), 'x': 1}", std::string(8, '\0'))).find("unexpected key 'x'") != std::string::npos);
    CHECK(npy_error(npy_bytes("{'descr': '<f8', 'fortran_order': maybe, 'shape': (1, 1)}", std::string(8, '\0'))).find("expected True or False") != std::string::npos);
    CHECK(npy_error(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, -1)}", std::string(8, '\0'))).find("corrupt .npy header") != std::string::npos);
    CHECK(npy_error(npy_bytes("garbage", "")).find("A.npy: corrupt .npy header (at header byte 0): expected '{'") == 0);
}

TEST_CASE("read_npy names a missing or unreadable file") {
    ScratchDir dir("npy-missing");
    auto message = [](const std::string& path) {
        try {
            io::read_npy(path);
        } catch (const io::InputError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(message(dir / "nope.npy") == dir / "nope.npy" + ": cannot open: No such file or directory");
    CHECK(message(dir.path().string()) == dir.path().string() + ": is a directory, not a file");
}

TEST_CASE("read_csv reads numbers under a header, whatever the line ends") {
    const std::string expected_header[] = {"a", "b c", "label"};
    for (const std::string text : {"a,b c,label\n1,2.5,0\n-3,1e3,1\n", "a,b c,label\r\n1,2.5,0\r\n-3,1e3,1\r\n",
                                   "\xEF\xBB\xBF\"a\", b c ,label\n1, 2.5 ,0\n-3,+1e3,1", "a,b c,label\n1,2.5,0\n-3,1000,1\n\n\n"}) {
        CAPTURE(text);
        const io::CsvTable t = io::parse_csv(text, "d.csv");
        REQUIRE(t.header.size() == 3);
        for (std::size_t i = 0; i < 3; ++i) CHECK(t.header[i] == expected_header[i]);
        REQUIRE(t.values.shape(0) == 3);  // by column: one row per column, one column per data row
        REQUIRE(t.values.shape(1) == 2);
        CHECK(t.values(1, 0) == 2.5);
        CHECK(t.values(0, 1) == -3.0);
        CHECK(t.values(1, 1) == 1000.0);
        CHECK(t.values(2, 1) == 1.0);
    }
}

TEST_CASE("read_csv names the line and column of every problem") {
    CHECK(csv_error("") == "d.csv: is empty; expected a header line of column names, then rows of numbers");
    CHECK(csv_error("\n\r\n") .find("is empty") != std::string::npos);
    CHECK(csv_error("a,b\n") == "d.csv: has a header line but no data rows");
    CHECK(csv_error("a,b\n1,2\n3\n") == "d.csv: line 3: has 1 fields but the header has 2");
    CHECK(csv_error("a,b\n1,2\n3,4,5\n") == "d.csv: line 3: has 3 fields but the header has 2");
    CHECK(csv_error("a,b\n1,\n") == "d.csv: line 2, column 2 (b): empty cell");
    CHECK(csv_error("a,b\n1,2\nx1,2\n") == "d.csv: line 3, column 1 (a): 'x1' is not a number");
    CHECK(csv_error("a,b\n1,2 3\n") == "d.csv: line 2, column 2 (b): '2 3' is not a number");
    CHECK(csv_error("a,b\n1,nan\n") == "d.csv: line 2, column 2 (b): 'nan' is not finite (NaN and Inf are refused)");
    CHECK(csv_error("a,b\n-inf,1\n").find("line 2, column 1 (a): '-inf' is not finite") != std::string::npos);
    CHECK(csv_error("a,b\n1e999,1\n") == "d.csv: line 2, column 1 (a): '1e999' is out of range for a double");
    CHECK(csv_error("a,b\n1,2\n\n3,4\n") == "d.csv: line 3: empty line");
    CHECK(csv_error("a,,c\n1,2,3\n") == "d.csv: line 1, column 2: empty column name");
    CHECK(csv_error("a,b,a\n1,2,3\n") == "d.csv: line 1, column 3: duplicate column name 'a'");
    CHECK(csv_error("1,2\n3,4\n") == "d.csv: line 1 holds numbers, not column names; the CSV needs a header line");
    CHECK(csv_error("a,b\n1,\x01\x02\n") == "d.csv: line 2, column 2 (b): '?" "?' is not a number");
}

TEST_CASE("atomic writers replace a file whole or leave it untouched") {
    ScratchDir dir("atomic");
    io::write_text_file(dir / "f.txt", "old");
    io::write_text_file(dir / "f.txt", "new contents");
    CHECK(read_file(dir / "f.txt") == "new contents");
    fs::create_directory(dir / "sub");
    CHECK_THROWS_WITH(io::write_text_file(dir / "sub", "x"), doctest::Contains("sub: cannot write (rename)"));
    CHECK_THROWS_WITH(io::write_npy(dir / "missing/m.npy", Matrix{{1.0}}), doctest::Contains("missing/m.npy: cannot write: No such file or directory"));
    CHECK(dir.entries() == std::vector<std::string>{"f.txt", "sub"});  // no temporary file left behind

    CHECK_NOTHROW(io::check_output_path(dir / "new.json"));
    CHECK_THROWS_WITH(io::check_output_path(dir / "sub"), doctest::Contains("is a directory"));
    CHECK_THROWS_WITH(io::check_output_path(dir / "missing/new.json"), doctest::Contains("does not exist"));
}

TEST_CASE("OutputSet: nothing is replaced until commit, then everything, and no temporary survives a failure") {
    ScratchDir dir("outputs");
    write_file(dir / "a.txt", "old a");
    write_file(dir / "in.csv", "x\n1\n");
    {
        io::OutputSet outputs;
        outputs.input(dir / "in.csv", "the --csv file");
        outputs.plan(dir / "a.txt", "--metrics");
        outputs.plan(dir / "new/b.npy", "the gradient of W", true);
        CHECK_THROWS_WITH(outputs.plan(dir / "./a.txt", "--plot"),
                          doctest::Contains("a.txt: would be written twice, as --metrics and as --plot; rename one"));
        CHECK_THROWS_WITH(outputs.plan(dir / "in.csv", "--out"),
                          doctest::Contains("in.csv: is the --csv file, which --out would overwrite"));
        CHECK_THROWS_WITH(outputs.plan(dir / "gone/c.txt", "--plot"), doctest::Contains("does not exist"));
        outputs.write(dir / "a.txt", "new a");
        outputs.write_npy(dir / "new/b.npy", Matrix{{1.0}});
        CHECK(read_file(dir / "a.txt") == "old a");  // destroyed without commit: as before
    }
    CHECK(dir.entries() == std::vector<std::string>{"a.txt", "in.csv"});
    io::OutputSet outputs;
    outputs.plan(dir / "a.txt", "--metrics");
    outputs.plan(dir / "new/b.npy", "the gradient of W", true);
    outputs.write(dir / "a.txt", "new a");
    outputs.write_npy(dir / "new/b.npy", Matrix{{2.0}});
    outputs.commit();
    CHECK(read_file(dir / "a.txt") == "new a");
    CHECK(io::read_npy(dir / "new/b.npy")(0, 0) == 2.0);
    CHECK(dir.entries() == std::vector<std::string>{"a.txt", "in.csv", "new"});
}

TEST_CASE("publish_directory swaps a staged directory into place") {
    ScratchDir dir("publish");
    const std::string target = dir / "model";
    std::string staged = io::make_staging_directory(target);
    io::write_text_file(staged + "/a.txt", "first");
    io::publish_directory(staged, target);
    CHECK(read_file(target + "/a.txt") == "first");

    staged = io::make_staging_directory(target);
    io::write_text_file(staged + "/b.txt", "second");
    io::publish_directory(staged, target);
    CHECK(read_file(target + "/b.txt") == "second");
    CHECK_FALSE(fs::exists(target + "/a.txt"));  // the old contents are gone, not merged
    CHECK(dir.entries() == std::vector<std::string>{"model"});

    io::write_text_file(dir / "file", "x");
    staged = io::make_staging_directory(dir / "file");
    CHECK_THROWS_WITH(io::publish_directory(staged, dir / "file"), doctest::Contains("not a directory"));
    CHECK(dir.entries() == std::vector<std::string>{"file", "model"});
}

TEST_CASE("CSV: a pandas to_csv() index column gets the index=False hint") {
    const std::string hint = "this looks like the row index pandas writes; pass index=False to DataFrame.to_csv()";
    CHECK(csv_error(",a,label\n0,1.5,1\n1,2.5,0\n").find("line 1, column 1: empty column name: " + hint) != std::string::npos);
    CHECK(csv_error("Unnamed: 0,a,label\n0,1.5,1\n1,2.5,0\n").find("column 'Unnamed: 0': " + hint) != std::string::npos);
    CHECK(csv_error("a,,c\n1,2,3\n") == "d.csv: line 1, column 2: empty column name");  // not the first column: no hint
}

TEST_CASE("CSV: quoted fields follow RFC 4180, never split at a comma inside quotes") {
    const io::CsvTable t = io::parse_csv("\"size, cm\",\"say \"\"hi\"\"\",\"multi\nline\"\n\"1.5\", 2 ,\"3\"\r\n4,5,6\n", "d.csv");
    REQUIRE(t.header.size() == 3);
    CHECK(t.header[0] == "size, cm");
    CHECK(t.header[1] == "say \"hi\"");
    CHECK(t.header[2] == "multi\nline");
    REQUIRE(t.values.shape(1) == 2);
    CHECK(t.values(0, 0) == 1.5);
    CHECK(t.values(2, 0) == 3.0);
    CHECK(t.values(1, 1) == 5.0);
    // A comma inside quotes stays in its cell: one cell that is not a number, not two numbers.
    CHECK(csv_error("a,b\n\"1,5\",2\n") == "d.csv: line 2, column 1 (a): '1,5' is not a number");
    // A quoted line break does not shift the line numbers of later errors.
    CHECK(csv_error("\"a\nb\",c\n1,x\n") == "d.csv: line 3, column 2 (c): 'x' is not a number");
    CHECK(csv_error("a,b\n\"1,2\n") == "d.csv: line 2: a quoted field is never closed (missing '\"')");
    CHECK(csv_error("a,b\n1\"5,2\n").find("line 2: a quote inside an unquoted field '1\"5'") != std::string::npos);
    CHECK(csv_error("a,b\n\"1\"5,2\n").find("line 2: text after a closing quote") != std::string::npos);
}
