// A binary cache of a numeric CSV beside it, so that a large file is parsed once: `FILE.npy` (for
// FILE = data/big.csv: data/big.csv.npy) holds every column as float64 in Fortran order, shape
// rows x columns, so numpy.load gives the table; `FILE.npy.json` records the CSV it was made from.
//
// The rule: the cache is used while the CSV's size and modification time (to the nanosecond) are
// the ones recorded and the .npy is whole (its header and length match the record); anything else
// makes read_csv_cached read the CSV again and rewrite the cache. An edit that keeps the size and
// restores the modification time is not noticed. Both files are written atomically, the record
// last, so an interrupted write leaves a cache that is never used.
#pragma once

#include <nn/io.hpp>

#include <functional>
#include <string>
#include <vector>

namespace matgrad::io {

/// What read_csv_cached did.
enum class CacheUse {
    read,         ///< the cache was current and read
    written,      ///< the CSV was read and the cache (re)written
    not_written,  ///< the CSV was read; the cache could not be written (e.g. a read-only folder)
};

/// Where the cache of `csv_path` lives: csv_path + ".npy" (and its record, + ".npy.json").
std::string csv_cache_path(const std::string& csv_path);

/// Reads every row of the CSV at `path` into the targets `choose(header)` returns for its column
/// names (one per column, each matrix resized to its rows x the rows of the file), from the cache
/// when it is current, otherwise with CsvReader (errors as read_csv; `progress` as read_all) and
/// then writing the cache. `choose` may throw (a missing column), before any data is read.
CacheUse read_csv_cached(const std::string& path,
                         const std::function<std::vector<ColumnTarget>(const std::vector<std::string>&)>& choose,
                         const std::function<void(double)>& progress = {});

/// A CSV's size as far as known without reading its rows.
struct CsvSize {
    /// The column names.
    std::vector<std::string> header;
    /// The data rows: exact from a current cache, else the count of line breaks
    /// (CsvReader::rows_bound).
    std::size_t rows = 0;
    /// The cache was current.
    bool cached = false;
};

/// The header and rows of the CSV at `path` from its current cache, or from a CsvReader's count of
/// lines (one quick pass over the bytes, no numbers parsed). Errors as CsvReader's constructor; for
/// a path that is not a regular file (a pipe can be read only once; a missing file) nothing is
/// read and the size is 0 rows.
CsvSize csv_size(const std::string& path);

/// Makes the cache of the CSV at `path` current without holding its values in memory: the rows are
/// parsed a block of about 8 MB at a time and each column's part written at its place in the
/// .npy (a second pass only if a quoted field holds a line break). Returns CacheUse::read if it
/// was current already, else CacheUse::written; `progress` gets the share of the CSV read. Throws
/// the CSV's InputError, or an InputError naming the cache if it cannot be written.
CacheUse convert_csv_to_cache(const std::string& path, const std::function<void(double)>& progress = {});

/// The current cache of a CSV, open for reading rows a block at a time: read_rows() copies rows
/// of chosen columns into the caller's buffers with pread, so a reader holds only its buffers --
/// no pages of a mapping count against its memory -- and a file that shrinks meanwhile is an
/// InputError, not a crash.
class CacheFile {
public:
    /// Opens the cache of the CSV at `csv_path`; InputError unless it is current.
    explicit CacheFile(const std::string& csv_path);
    CacheFile(const CacheFile&) = delete;
    CacheFile& operator=(const CacheFile&) = delete;
    ~CacheFile();
    /// The CSV's column names.
    const std::vector<std::string>& header() const { return header_; }
    /// Data rows.
    std::size_t rows() const { return rows_; }
    /// Rows first .. end - 1 of every column c with a target (targets[c].matrix set; one target
    /// per column, as read_csv_cached's `choose` gives): row targets[c].row of that matrix gets
    /// them at its columns 0 .. end - first - 1 (it must have that many). Throws InputError naming
    /// the cache if it was truncated while being read or cannot be read.
    void read_rows(std::size_t first, std::size_t end, const std::vector<ColumnTarget>& targets) const;

private:
    std::string path_;
    int fd_ = -1;
    std::vector<std::string> header_;
    std::size_t rows_ = 0;
    std::size_t data_offset_ = 0;  // where column 0 starts in the file
};

}  // namespace matgrad::io
