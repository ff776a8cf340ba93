// File I/O for matgrad: .npy arrays, numeric CSV tables, and atomic writes. Readers validate
// strictly and throw InputError naming the file and the place (line/column, array element), so
// the CLI can print one clear line; they never crash on hostile input (fuzzed, see fuzz/).
#pragma once

#include <autodiff/tape.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace matgrad::io {

/// A file that cannot be used: missing, unreadable, malformed, or holding values we refuse.
/// The message starts with the file's name, e.g.
/// `X.npy: truncated: header says 10x7 float64 (560 bytes of data) but the file has 312`.
class InputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Reads a 2-D .npy array (format versions 1, 2 and 3) as float64. Converts exactly: float32,
/// signed/unsigned integers of 1-8 bytes (refusing 64-bit values a double cannot hold exactly),
/// bool, either byte order, and Fortran (column-major) order. Refuses every other dtype (complex,
/// object, strings, float16, ...), arrays that are not 2-D or are empty, NaN/Inf elements, and
/// truncated files or trailing bytes.
Matrix read_npy(const std::string& path);
/// The same parser on bytes in memory; `name` stands for the file in error messages.
Matrix parse_npy(std::string_view bytes, const std::string& name);
/// read_npy, also telling the file's dtype as numpy names it ("float32", "int64"): a float32 file
/// holds only float32's precision, which a check of its values must allow for.
Matrix read_npy(const std::string& path, std::string& dtype);

/// Writes a little-endian, C-order float64 .npy (version 1.0) atomically: into a temporary file in
/// the same directory, fsync, then rename over `path`. On failure `path` is untouched.
void write_npy(const std::string& path, const Matrix& values);
/// Writes a text file atomically, like write_npy.
void write_text_file(const std::string& path, const std::string& contents);
/// Throws InputError unless a file can be written at `path`: its directory exists and is writable
/// and `path` is not a directory. Lets a long run refuse a bad output path before it starts.
void check_output_path(const std::string& path);
/// The whole file as a string; InputError naming the file if it is missing, unreadable or a
/// directory.
std::string read_text_file(const std::string& path);

/// A numeric CSV table: the header's column names and one row of `values` per data line.
struct CsvTable {
    std::vector<std::string> header;  ///< the column names, in file order
    Matrix values;  ///< rows x header.size()
};

/// Reads a comma-separated file with a header line of column names and only finite numbers below
/// it. Accepts LF or CRLF line ends, a trailing newline, a UTF-8 byte-order mark, spaces around
/// cells and RFC 4180 quoting (a field in double quotes may hold commas, line breaks and "" for a
/// quote; a stray quote throws rather than splitting a field at the wrong comma). Ragged rows,
/// empty cells, text, NaN/Inf, a header only, an empty file, duplicate column names and a pandas
/// index column (empty first name or "Unnamed: 0": the message says to pass index=False) throw
/// InputError naming the line and column.
CsvTable read_csv(const std::string& path);
/// The same parser on text in memory; `name` stands for the file in error messages.
CsvTable parse_csv(std::string_view text, const std::string& name);

/// Replaces directory `dir` by the fully written directory `staged` (a sibling, e.g. made by
/// make_staging_directory) in one atomic rename: readers see the old or the new contents, never a
/// mix. The old contents are deleted afterwards. Throws std::runtime_error (staged is then removed).
void publish_directory(const std::string& staged, const std::string& dir);
/// Creates an empty, uniquely named hidden directory beside `dir` to write into before
/// publish_directory.
std::string make_staging_directory(const std::string& dir);

}  // namespace matgrad::io
