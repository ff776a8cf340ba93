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

}  // namespace matgrad::io
