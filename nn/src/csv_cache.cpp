// The .npy cache of a CSV (<nn/csv_cache.hpp>).
#include "io_files.hpp"

#include <nn/csv_cache.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <set>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace matgrad::io {
namespace {

/// The CSV's identity as the cache records it.
struct Stamp {
    long long size = -1, mtime_ns = -1;
    bool operator==(const Stamp& o) const { return size == o.size && mtime_ns == o.mtime_ns; }
};

Stamp stamp_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
    return {static_cast<long long>(st.st_size),
            static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec};
}

/// Each distinct target matrix resized to (its rows) x n.
void size_targets(const std::vector<ColumnTarget>& targets, std::size_t n) {
    std::set<Matrix*> done;
    for (const ColumnTarget& t : targets)
        if (t.matrix != nullptr && done.insert(t.matrix).second) *t.matrix = Matrix({t.matrix->shape(0), n});
}

/// What a current cache holds: the CSV's header and data rows.
struct Record {
    std::vector<std::string> header;
    std::size_t rows = 0;
    std::size_t data_offset = 0;  // where column 0 starts in the .npy
};

/// The record of `cache` if the cache is current for `stamp` and its .npy whole (the preamble and
/// the length the record implies); nothing otherwise.
std::optional<Record> current_record(const std::string& cache, const Stamp& stamp) {
    Record r;
    try {
        const nlohmann::json record = nlohmann::json::parse(detail::read_file_bytes(cache + ".json", kMaxTextFileBytes, "a cache record"));
        if (record.at("csv_size").get<long long>() != stamp.size ||
            record.at("csv_mtime_ns").get<long long>() != stamp.mtime_ns)
            return std::nullopt;
        r.header = record.at("header").get<std::vector<std::string>>();
        r.rows = record.at("rows").get<std::size_t>();
    } catch (const std::exception&) {  // missing or damaged: made again
        return std::nullopt;
    }
    if (r.header.empty() || r.rows == 0 || r.rows > (std::size_t{1} << 56) / r.header.size())  // no overflow below
        return std::nullopt;
    const std::string preamble = detail::npy_preamble(r.rows, r.header.size(), true);
    r.data_offset = preamble.size();
    const int fd = ::open(cache.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    std::string start(preamble.size(), '\0');
    if (::fstat(fd, &st) != 0 ||
        static_cast<std::size_t>(st.st_size) != preamble.size() + r.rows * r.header.size() * sizeof(double) ||
        ::pread(fd, start.data(), start.size(), 0) != static_cast<ssize_t>(start.size()) || start != preamble)
        return std::nullopt;
    return r;
}

/// Reads `count` doubles at byte `offset` of the open cache `fd` into `into`.
void read_exactly(int fd, const std::string& cache, std::size_t offset, std::size_t count, double* into) {
    detail::read_exactly_at(fd, offset, reinterpret_cast<char*>(into), count * sizeof(double), cache,
                            "run again (the cache is then made again from the CSV)");
}

/// Reads the cache into the targets `choose` gives if it is current for `stamp`; false otherwise
/// (nothing is changed then but what `choose` did).
bool read_cache(const std::string& cache, const Stamp& stamp,
                const std::function<std::vector<ColumnTarget>(const std::vector<std::string>&)>& choose,
                std::vector<ColumnTarget>& targets) {
    const std::optional<Record> record = current_record(cache, stamp);
    if (!record) return false;
    const int fd = ::open(cache.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    const std::size_t rows = record->rows;
    targets = choose(record->header);
    size_targets(targets, rows);
    for (std::size_t c = 0; c < record->header.size(); ++c) {
        if (targets[c].matrix == nullptr) continue;
        read_exactly(fd, cache, record->data_offset + c * rows * sizeof(double), rows,
                     targets[c].matrix->data() + targets[c].row * rows);
    }
    return true;
}

/// Writes the record that makes `cache` current for the CSV of `stamp` (after the .npy).
void write_record(const std::string& cache, const Stamp& stamp, std::size_t rows, const std::vector<std::string>& header) {
    const nlohmann::json record = {{"csv_size", stamp.size}, {"csv_mtime_ns", stamp.mtime_ns},
                                   {"rows", rows}, {"header", header}};
    write_text_file(cache + ".json", record.dump(1) + "\n");
}

/// Writes the columns (every one has a target) as the cache of a CSV with `header` and `stamp`.
bool write_cache(const std::string& cache, const Stamp& stamp, const std::vector<std::string>& header,
                 const std::vector<ColumnTarget>& targets) {
    const std::size_t rows = targets.front().matrix->shape(1);
    try {
        AtomicFileWriter npy(cache);
        npy.write(detail::npy_preamble(rows, header.size(), true));
        for (const ColumnTarget& t : targets)
            npy.write({reinterpret_cast<const char*>(t.matrix->data() + t.row * rows), rows * sizeof(double)});
        npy.commit();
        write_record(cache, stamp, rows, header);
    } catch (const std::runtime_error&) {
        return false;
    }
    return true;
}

}  // namespace

std::string csv_cache_path(const std::string& csv_path) { return csv_path + ".npy"; }

CacheUse read_csv_cached(const std::string& path,
                         const std::function<std::vector<ColumnTarget>(const std::vector<std::string>&)>& choose,
                         const std::function<void(double)>& progress) {
    const std::string cache = csv_cache_path(path);
    const Stamp stamp = stamp_of(path);  // before reading: a CSV changed meanwhile is read again next time
    std::vector<ColumnTarget> targets;
    if (stamp.size >= 0 && read_cache(cache, stamp, choose, targets)) return CacheUse::read;

    CsvReader reader(path);
    targets = choose(reader.header());
    reader.read_all(targets, progress);
    const bool every_column = std::all_of(targets.begin(), targets.end(),
                                          [](const ColumnTarget& t) { return t.matrix != nullptr; });
    return stamp.size >= 0 && every_column && write_cache(cache, stamp, reader.header(), targets)
               ? CacheUse::written
               : CacheUse::not_written;
}

namespace {

/// Streams the rows of `reader` into a new cache laid out for `capacity` rows, a block of rows at
/// a time; commits it (and its record) only if the file has exactly `capacity` rows. Returns the
/// rows the file has.
std::size_t write_cache_streamed(CsvReader& reader, const std::string& cache, const Stamp& stamp,
                                 std::size_t capacity, const std::function<void(double)>& progress) {
    const std::size_t cols = reader.header().size();
    // About 8 MB of rows at a time: the conversion's memory does not grow with the file.
    const std::size_t block = std::max<std::size_t>(1024, (std::size_t{8} << 20) / (cols * sizeof(double)));
    Matrix rows_block({cols, block});
    std::vector<ColumnTarget> targets;
    for (std::size_t c = 0; c < cols; ++c) targets.push_back({&rows_block, c});
    std::optional<AtomicFileWriter> npy;
    std::size_t offset = 0;
    try {
        npy.emplace(cache);
        const std::string preamble = detail::npy_preamble(capacity, cols, true);
        npy->write(preamble);
        offset = preamble.size();
    } catch (const std::runtime_error& e) {
        throw InputError(std::string(e.what()) + " (the cache of the CSV, written beside it)");
    }
    std::size_t n = 0;
    for (std::size_t got; (got = reader.read(targets, 0, block)) > 0; n += got) {
        if (progress) progress(reader.fraction_read());
        if (n + got > capacity) continue;  // more rows than counted: only counted now, written next time
        try {
            for (std::size_t c = 0; c < cols; ++c)
                npy->write_at(offset + (c * capacity + n) * sizeof(double),
                              {reinterpret_cast<const char*>(rows_block.data() + c * block), got * sizeof(double)});
        } catch (const std::runtime_error& e) {
            throw InputError(std::string(e.what()) + " (the cache of the CSV, written beside it)");
        }
    }
    if (n != capacity) return n;  // the temporary is removed; the caller converts again with n
    try {
        npy->commit();
        write_record(cache, stamp, n, reader.header());
    } catch (const std::runtime_error& e) {
        throw InputError(std::string(e.what()) + " (the cache of the CSV, written beside it)");
    }
    return n;
}

}  // namespace

CsvSize csv_size(const std::string& path) {
    const Stamp stamp = stamp_of(path);
    if (stamp.size < 0) return {};  // a pipe can be read only once; missing: the reader says so later
    if (const std::optional<Record> record = current_record(csv_cache_path(path), stamp))
        return {record->header, record->rows, true};
    CsvReader reader(path);
    return {reader.header(), reader.rows_bound(), false};
}

CacheUse convert_csv_to_cache(const std::string& path, const std::function<void(double)>& progress) {
    const std::string cache = csv_cache_path(path);
    const Stamp stamp = stamp_of(path);
    if (stamp.size < 0) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) CsvReader reader(path);  // missing: the reader's error
        throw InputError(path + ": is not a regular file; a cache (train --memory) needs one");
    }
    if (current_record(cache, stamp)) return CacheUse::read;
    std::size_t capacity = 0;
    for (int attempt = 0;; ++attempt) {  // a second pass only when the line count was not the row count
        CsvReader reader(path);
        if (attempt == 0) capacity = reader.rows_bound();
        const std::size_t rows = write_cache_streamed(reader, cache, stamp, capacity, progress);
        if (rows == capacity) return CacheUse::written;
        capacity = rows;
    }
}

CacheFile::CacheFile(const std::string& csv_path) : path_(csv_cache_path(csv_path)) {
    const Stamp stamp = stamp_of(csv_path);
    const std::optional<Record> record = stamp.size >= 0 ? current_record(path_, stamp) : std::nullopt;
    if (!record) throw InputError(path_ + ": is not a current cache of " + csv_path + " (convert_csv_to_cache makes it)");
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd_ < 0 || ::fstat(fd_, &st) != 0 ||
        static_cast<std::size_t>(st.st_size) != record->data_offset + record->rows * record->header.size() * sizeof(double)) {
        if (fd_ >= 0) ::close(fd_);
        throw InputError(path_ + ": changed while it was opened; run again");
    }
    header_ = record->header;
    rows_ = record->rows;
    data_offset_ = record->data_offset;
}

CacheFile::~CacheFile() { ::close(fd_); }

void CacheFile::read_rows(std::size_t first, std::size_t end, const std::vector<ColumnTarget>& targets) const {
    if (first > end || end > rows_ || targets.size() != header_.size())
        throw std::logic_error("CacheFile::read_rows: rows " + std::to_string(first) + " .. " + std::to_string(end) +
                               " of " + std::to_string(rows_) + ", " + std::to_string(targets.size()) +
                               " targets for " + std::to_string(header_.size()) + " columns");
    for (std::size_t c = 0; c < header_.size(); ++c) {
        Matrix* into = targets[c].matrix;
        if (into == nullptr) continue;
        if (into->shape(1) < end - first || targets[c].row >= into->shape(0))
            throw std::logic_error("CacheFile::read_rows: a target matrix too small for the rows");
        read_exactly(fd_, path_, data_offset_ + (c * rows_ + first) * sizeof(double), end - first,
                     into->data() + targets[c].row * into->shape(1));
    }
}

}  // namespace matgrad::io
