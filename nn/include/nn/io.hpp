// File I/O for matgrad: .npy arrays, numeric CSV tables, and atomic writes. Readers validate
// strictly and throw InputError naming the file and the place (line/column, array element), so
// the CLI can print one clear line; they never crash on hostile input (fuzzed, see fuzz/).
#pragma once

#include <autodiff/tape.hpp>

#include <cstdint>
#include <functional>
#include <memory>

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
/// truncated files or trailing bytes; devices and files larger than the largest matrix
/// (kMaxMatrixElements) are refused before they are read whole.
Matrix read_npy(const std::string& path);
/// The same parser on bytes in memory; `name` stands for the file in error messages.
Matrix parse_npy(std::string_view bytes, const std::string& name);
/// What read_npy(path, info) tells beside the values.
struct NpyInfo {
    /// The dtype as numpy names it ("float32", "int64"): a float32 file holds only float32's
    /// precision, which a check of its values must allow for.
    std::string dtype;
    /// The file was 1-D (n values), returned as the column n x 1: it stands as much for the row
    /// 1 x n, which only a caller that knows the shape it expects can choose.
    bool one_dimensional = false;
};
/// read_npy that also accepts a 1-D array (as a flagged column) and tells the dtype.
Matrix read_npy(const std::string& path, NpyInfo& info);

/// Writes a little-endian, C-order float64 .npy (version 1.0) atomically: into a temporary file in
/// the same directory, fsync, then rename over `path`. On failure `path` is untouched.
void write_npy(const std::string& path, const Matrix& values);
/// Writes a text file atomically, like write_npy.
void write_text_file(const std::string& path, const std::string& contents);

/// A file written in pieces and published atomically: the pieces go to a temporary file beside
/// `path`; commit() fsyncs it and renames it over `path`. Destroyed without commit() (an error
/// on the way), the temporary file is removed and `path` is untouched. Failures throw
/// std::runtime_error naming `path`.
class AtomicFileWriter {
public:
    /// Creates the temporary file beside `path`.
    explicit AtomicFileWriter(const std::string& path);
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
    ~AtomicFileWriter();
    /// Appends `bytes` to the temporary file.
    void write(std::string_view bytes);
    /// Writes `bytes` at `offset` of the temporary file (growing it as needed), for a file filled
    /// out of order; the position write() appends at is unchanged.
    void write_at(std::uint64_t offset, std::string_view bytes);
    /// fsync, then renames the temporary file over `path`.
    void commit();
    /// fsync and close, but leave the renaming to the caller: returns the temporary's path, which
    /// the caller now owns (renames into place or removes).
    std::string finish();

private:
    [[noreturn]] void fail(const char* what);
    std::string path_, temp_;
    int fd_ = -1;
};
/// Throws InputError unless a file can be written at `path`: its directory exists and is writable
/// and `path` is not a directory. Lets a long run refuse a bad output path before it starts.
void check_output_path(const std::string& path);
/// The most bytes read_text_file reads (a model file, model.json): 16 MiB.
inline constexpr std::size_t kMaxTextFileBytes = std::size_t{16} << 20;
/// The most bytes read_csv reads from a pipe (a regular file is read a window at a time, any size): 1 GiB.
inline constexpr std::size_t kMaxCsvFileBytes = std::size_t{1} << 30;
/// The bytes CsvReader reads from a regular file at a time: 1 MiB.
inline constexpr std::size_t kCsvWindowBytes = std::size_t{1} << 20;
/// The whole file (or pipe) as a string; InputError naming the file if it is missing,
/// unreadable, a directory, a device, or larger than kMaxTextFileBytes (reading stops there).
std::string read_text_file(const std::string& path);

/// A numeric CSV table: the header's column names and the values by column, as nn takes samples:
/// `values` is header.size() x rows, its row c holding column c of the file.
struct CsvTable {
    std::vector<std::string> header;  ///< the column names, in file order
    Matrix values;  ///< header.size() x rows
};

/// Reads a comma-separated file with a header line of column names and only finite numbers below
/// it. Accepts LF or CRLF line ends, a trailing newline, a UTF-8 byte-order mark, spaces around
/// cells and RFC 4180 quoting (a field in double quotes may hold commas, line breaks and "" for a
/// quote; a stray quote throws rather than splitting a field at the wrong comma). Ragged rows,
/// empty cells, text, NaN/Inf, a header only, an empty file, duplicate column names and a pandas
/// index column (empty first name or "Unnamed: 0": the message says to pass index=False) throw
/// InputError naming the line and column. A quoting error anywhere in the file is reported before
/// any other problem; otherwise the first problem in the file is. A device is refused, and so is a
/// pipe of more than kMaxCsvFileBytes (a regular file is read a window at a time, whatever its
/// size); a file that shrinks while it is read is an InputError ("was truncated while being read").
CsvTable read_csv(const std::string& path);
/// The same parser on text in memory; `name` stands for the file in error messages.
CsvTable parse_csv(std::string_view text, const std::string& name);

/// Where CsvReader puts one column of the file: row `row` of `*matrix`, or nowhere (nullptr; the
/// cells are still checked as numbers), or, with `skip`, nowhere and unread: its cells may hold
/// anything (a column of names the caller does not use); the record's quoting and fields still count.
struct ColumnTarget {
    Matrix* matrix = nullptr;  ///< where the column goes; nullptr: nowhere
    std::size_t row = 0;       ///< the row of *matrix it fills
    bool skip = false;         ///< the cells are not read as numbers (needs matrix == nullptr)
};

/// The CSV reader behind read_csv, for callers that want the columns in matrices of their own or
/// the rows a block at a time: one pass over the file (read a window of kCsvWindowBytes at a time
/// into one buffer; a record longer than that grows it), numbers converted with std::from_chars
/// straight into the matrices.
/// The constructor reads the header and checks it; every error is the InputError read_csv throws.
class CsvReader {
public:
    /// Reads `path`: a regular file `window_bytes` at a time (pread: a file truncated meanwhile is
    /// an InputError naming it), a pipe whole. The window changes nothing but the memory and the
    /// number of reads (counting the rows reads the file once more).
    explicit CsvReader(const std::string& path, std::size_t window_bytes = kCsvWindowBytes);
    /// Reads `text`, which must outlive the reader; `name` stands for the file in messages.
    CsvReader(std::string_view text, std::string name);
    CsvReader(const CsvReader&) = delete;
    CsvReader& operator=(const CsvReader&) = delete;
    ~CsvReader();

    /// The column names.
    const std::vector<std::string>& header() const { return header_; }
    /// The file's name, as messages give it.
    const std::string& name() const { return name_; }
    /// Data rows read so far.
    std::size_t rows_read() const { return rows_; }
    /// The data rows of the file as its line breaks count them: exact unless a quoted field
    /// holds a line break (fewer rows) or a record ends with a lone carriage return (more).
    std::size_t rows_bound() const;
    /// The share of the file's bytes read so far (0 to 1), for progress bars.
    double fraction_read() const;

    /// Reads up to `count` more rows: column c of the k-th goes to `(*targets[c].matrix)(row,
    /// first + k)` (targets has one entry per column; each matrix at least first + count columns).
    /// Returns the number of rows read, 0 at the end of the file (InputError there if the file had
    /// no data rows).
    std::size_t read(const std::vector<ColumnTarget>& targets, std::size_t first, std::size_t count);
    /// Reads every remaining row, resizing each target matrix to (its rows) x (rows read), and
    /// calls `progress` (if set) now and then with fraction_read().
    void read_all(const std::vector<ColumnTarget>& targets,
                  const std::function<void(double)>& progress = {});

private:
    void start();  // the header, and the bound on the rows
    struct Source;
    std::unique_ptr<Source> source_;
    std::string name_;
    std::vector<std::string> header_;
    std::size_t rows_ = 0;
};

/// The outputs of one command, written all or nothing. plan() every output first -- it refuses
/// two outputs at one path (naming both) and an output at the path of one of the command's inputs
/// (registered with input()) -- then write() each to a temporary beside it, and commit() renames
/// them all into place once every one is written. Destroyed without commit() (an error, a failed
/// write), it removes its temporaries: nothing the user had is touched. A missing directory of
/// outputs (plan's make_directory) is written as a temporary directory and renamed into place by
/// commit() too, so a failed run leaves no empty directory either.
class OutputSet {
public:
    OutputSet() = default;
    OutputSet(const OutputSet&) = delete;
    OutputSet& operator=(const OutputSet&) = delete;
    ~OutputSet();

    /// A file the command reads, e.g. ("m.mg", "the MODEL file"): no output may be written there.
    void input(const std::string& path, const std::string& what);
    /// An output file, e.g. ("grads/dW.npy", "the gradient of param W"). Throws InputError for a
    /// second output at the same path, an input's path, a directory, or a directory that cannot
    /// be written; with `make_directory` the file's directory may be missing (its parent may not).
    void plan(const std::string& path, const std::string& what, bool make_directory = false);
    /// An output directory replaced as a whole (train --save), checked like plan().
    void plan_directory(const std::string& dir, const std::string& what);
    /// Writes a planned file's bytes to its temporary.
    void write(const std::string& path, std::string_view bytes);
    /// write() of write_npy's bytes.
    void write_npy(const std::string& path, const Matrix& values);
    /// Makes the temporary directory of a plan_directory() and returns it for the files.
    std::string stage_directory(const std::string& dir);
    /// Renames every temporary into place (files, then directories).
    void commit();

private:
    struct Entry {
        std::string path, key, what;  // key: the absolute, normalized path
        std::string temp;             // written: its temporary file or directory
        bool directory = false;       // a whole directory: plan_directory's, or created below
        bool created = false;         // a missing directory of planned files, made by write()
    };
    Entry& planned(const std::string& path, bool directory);
    void check_free(const std::string& path, const std::string& key, const std::string& what) const;
    std::vector<std::pair<std::string, std::string>> inputs_;  // (path, what)
    std::vector<Entry> entries_;
    bool committed_ = false;
};

/// Replaces directory `dir` by the fully written directory `staged` (a sibling, e.g. made by
/// make_staging_directory) in one atomic rename: readers see the old or the new contents, never a
/// mix. The old contents are deleted afterwards. Throws std::runtime_error (staged is then removed).
void publish_directory(const std::string& staged, const std::string& dir);
/// Creates an empty, uniquely named hidden directory beside `dir` to write into before
/// publish_directory.
std::string make_staging_directory(const std::string& dir);

}  // namespace matgrad::io
