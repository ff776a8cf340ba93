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
#include <memory>
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

/// The current cache of a CSV, memory-mapped read-only: column c of the CSV is the `rows()`
/// doubles at column(c). Pages are read from the file as they are touched and stay in the page
/// cache; release() drops rows the caller is done with from this process's memory (RSS), so a
/// reader that releases as it goes keeps only its window resident.
class MappedCache {
public:
    /// Maps the cache of the CSV at `csv_path`; InputError unless it is current.
    explicit MappedCache(const std::string& csv_path);
    MappedCache(const MappedCache&) = delete;
    MappedCache& operator=(const MappedCache&) = delete;
    ~MappedCache();
    /// The CSV's column names.
    const std::vector<std::string>& header() const { return header_; }
    /// Data rows.
    std::size_t rows() const { return rows_; }
    /// The rows() values of column c.
    const double* column(std::size_t c) const { return data_ + c * rows_; }
    /// Gives the whole pages holding only rows first .. end - 1 (of every column) back.
    void release(std::size_t first, std::size_t end) const;

private:
    struct Mapping;
    std::unique_ptr<Mapping> map_;
    std::vector<std::string> header_;
    std::size_t rows_ = 0;
    const double* data_ = nullptr;
};

}  // namespace matgrad::io
