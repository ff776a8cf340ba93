// The .npy cache of a CSV (<nn/csv_cache.hpp>).
#include "io_files.hpp"

#include <nn/csv_cache.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
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

/// Reads the cache into the targets `choose` gives if it is current for `stamp`; false otherwise
/// (nothing is changed then but what `choose` did).
bool read_cache(const std::string& cache, const Stamp& stamp,
                const std::function<std::vector<ColumnTarget>(const std::vector<std::string>&)>& choose,
                std::vector<ColumnTarget>& targets) {
    std::vector<std::string> header;
    std::size_t rows = 0;
    try {
        const nlohmann::json record = nlohmann::json::parse(detail::read_file_bytes(cache + ".json", kMaxTextFileBytes, "a cache record"));
        if (record.at("csv_size").get<long long>() != stamp.size ||
            record.at("csv_mtime_ns").get<long long>() != stamp.mtime_ns)
            return false;
        header = record.at("header").get<std::vector<std::string>>();
        rows = record.at("rows").get<std::size_t>();
    } catch (const std::exception&) {  // missing or damaged: made again
        return false;
    }
    if (header.empty() || rows == 0) return false;
    const std::string preamble = detail::npy_preamble(rows, header.size(), true);
    const int fd = ::open(cache.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    std::string start(preamble.size(), '\0');
    if (::fstat(fd, &st) != 0 ||
        static_cast<std::size_t>(st.st_size) != preamble.size() + rows * header.size() * sizeof(double) ||
        ::pread(fd, start.data(), start.size(), 0) != static_cast<ssize_t>(start.size()) || start != preamble)
        return false;
    targets = choose(header);
    size_targets(targets, rows);
    for (std::size_t c = 0; c < header.size(); ++c) {
        if (targets[c].matrix == nullptr) continue;
        auto* into = reinterpret_cast<char*>(targets[c].matrix->data() + targets[c].row * rows);
        const std::size_t bytes = rows * sizeof(double);
        for (std::size_t done = 0; done < bytes;) {  // pread may return less than asked
            const ssize_t n = ::pread(fd, into + done, bytes - done,
                                      static_cast<off_t>(preamble.size() + c * bytes + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw InputError(cache + ": cannot read the cache of the CSV; delete it to make it again");
            done += static_cast<std::size_t>(n);
        }
    }
    return true;
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
        const nlohmann::json record = {{"csv_size", stamp.size}, {"csv_mtime_ns", stamp.mtime_ns},
                                       {"rows", rows}, {"header", header}};
        write_text_file(cache + ".json", record.dump(1) + "\n");
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

}  // namespace matgrad::io
