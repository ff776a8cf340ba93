// Whole-file reads, atomic file writes (temporary file + fsync + rename) and atomic replacement of
// a whole directory (the model directory of `matgrad train`).
#include "io_files.hpp"

#include <nn/io.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace matgrad::io {
namespace detail {
namespace {

std::string errno_text() { return std::strerror(errno); }

/// Closes a file descriptor on scope exit unless released.
struct FdGuard {
    int fd;
    ~FdGuard() {
        if (fd >= 0) ::close(fd);
    }
};

/// A name for a temporary sibling of `path` that no other writer (thread or process) uses:
/// `dir/.name.tmp-<pid>-<counter>`.
std::string temporary_sibling(const std::string& path) {
    static std::atomic<unsigned> counter{0};
    std::filesystem::path p(path);
    // "model/" names the directory "model": drop trailing separators before taking the name.
    while (p.has_relative_path() && !p.has_filename()) p = p.parent_path();
    const std::filesystem::path dir = p.parent_path();
    const std::string name = "." + p.filename().string() + ".tmp-" + std::to_string(::getpid()) +
                             "-" + std::to_string(counter++);
    return dir.empty() ? name : (dir / name).string();
}

/// Makes a rename durable: fsync the directory holding the renamed entry (best effort).
void sync_parent_directory(const std::string& path) {
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

}  // namespace

std::string printable(std::string_view text, std::size_t max_length) {
    std::string out;
    for (const char c : text.substr(0, max_length)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? '?' : c;
    }
    if (text.size() > max_length) out += "...";
    return out;
}

namespace {

/// Opens `path` for reading; InputError naming it when it is missing, unreadable, a directory or a
/// device (/dev/zero never ends; pipes, as <(...), stay readable).
int open_for_reading(const std::string& path, struct stat& st) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw InputError(path + ": cannot open: " + errno_text());
    FdGuard guard{fd};
    if (::fstat(fd, &st) != 0) throw InputError(path + ": cannot read: " + errno_text());
    if (S_ISDIR(st.st_mode)) throw InputError(path + ": is a directory, not a file");
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISSOCK(st.st_mode))
        throw InputError(path + ": is a device, not a file");
    guard.fd = -1;
    return fd;
}

}  // namespace

std::string read_file_bytes(const std::string& path, std::size_t max_bytes, const char* kind) {
    struct stat st {};
    const int fd = open_for_reading(path, st);
    FdGuard guard{fd};
    auto too_large = [&] {
        return InputError(path + ": is larger than " + std::to_string(max_bytes >> 20) + " MiB, the most " + kind +
                          " may hold");
    };
    if (S_ISREG(st.st_mode) && static_cast<std::uintmax_t>(st.st_size) > max_bytes) throw too_large();

    std::string bytes;
    if (S_ISREG(st.st_mode)) bytes.reserve(static_cast<std::size_t>(st.st_size));
    char buffer[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            throw InputError(path + ": cannot read: " + errno_text());
        }
        bytes.append(buffer, static_cast<std::size_t>(n));
        if (bytes.size() > max_bytes) throw too_large();
    }
    return bytes;
}

InputFile::InputFile(const std::string& path, std::size_t max_pipe_bytes, const char* kind) {
    struct stat st {};
    const int fd_opened = open_for_reading(path, st);
    if (S_ISREG(st.st_mode)) {
        fd = fd_opened;
        size = static_cast<std::uint64_t>(st.st_size);
        return;
    }
    ::close(fd_opened);
    contents = read_file_bytes(path, max_pipe_bytes, kind);  // a pipe
}

InputFile::~InputFile() {
    if (fd >= 0) ::close(fd);
}

void read_exactly_at(int fd, std::uint64_t offset, char* into, std::size_t bytes, const std::string& path,
                     const char* advice) {
    for (std::size_t done = 0; done < bytes;) {
        const ssize_t n = ::pread(fd, into + done, bytes - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw InputError(path + ": cannot read: " + errno_text());
        if (n == 0) throw InputError(path + ": was truncated while being read; " + advice);
        done += static_cast<std::size_t>(n);
    }
}

std::string write_temporary(const std::string& path, std::string_view bytes) {
    AtomicFileWriter file(path);
    file.write(bytes);
    return file.finish();
}

void commit_temporary(const std::string& temp, const std::string& path) {
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const std::string reason = errno_text();
        ::unlink(temp.c_str());
        throw std::runtime_error(path + ": cannot write (rename): " + reason);
    }
    sync_parent_directory(path);
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
    commit_temporary(write_temporary(path, bytes), path);
}

}  // namespace detail

AtomicFileWriter::AtomicFileWriter(const std::string& path) : path_(path), temp_(detail::temporary_sibling(path)) {
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0) throw std::runtime_error(path_ + ": cannot write: " + detail::errno_text());
}

AtomicFileWriter::~AtomicFileWriter() {
    if (fd_ >= 0) ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFileWriter::fail(const char* what) {
    const std::string reason = detail::errno_text();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    ::unlink(temp_.c_str());
    temp_.clear();
    throw std::runtime_error(path_ + ": cannot " + what + ": " + reason);
}

void AtomicFileWriter::write(std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("write");
        }
        done += static_cast<std::size_t>(n);
    }
}

void AtomicFileWriter::write_at(std::uint64_t offset, std::string_view bytes) {
    for (std::size_t done = 0; done < bytes.size();) {
        const ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("write");
        }
        done += static_cast<std::size_t>(n);
    }
}

std::string AtomicFileWriter::finish() {
    if (::fsync(fd_) != 0) fail("write (fsync)");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("write (close)");
    return std::exchange(temp_, std::string());
}

void AtomicFileWriter::commit() { detail::commit_temporary(finish(), path_); }

void write_text_file(const std::string& path, const std::string& contents) {
    detail::write_file_atomically(path, contents);
}

void check_output_path(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        throw InputError(path + ": is a directory; expected a file name to write");
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw InputError(path + ": cannot write there: the directory " + dir.string() +
                         " does not exist");
    if (::access(dir.c_str(), W_OK) != 0)
        throw InputError(path + ": cannot write there: " + detail::errno_text());
}

std::string read_text_file(const std::string& path) {
    return detail::read_file_bytes(path, kMaxTextFileBytes, "a model file or other text file");
}

std::string make_staging_directory(const std::string& dir) {
    for (int attempt = 0; attempt < 100; ++attempt) {
        const std::string staged = detail::temporary_sibling(dir);
        if (::mkdir(staged.c_str(), 0777) == 0) return staged;
        if (errno != EEXIST)
            throw std::runtime_error(dir + ": cannot create a directory beside it: " +
                                     detail::errno_text());
    }
    throw std::runtime_error(dir + ": cannot create a unique temporary directory beside it");
}

void publish_directory(const std::string& staged, const std::string& dir) {
    auto fail = [&](const std::string& reason) {
        std::error_code ignored;
        std::filesystem::remove_all(staged, ignored);
        throw std::runtime_error(dir + ": cannot replace it: " + reason);
    };
    // The staged files are fsynced by their writers; make their directory entries durable too.
    if (const int fd = ::open(staged.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT) fail(detail::errno_text());
        if (::rename(staged.c_str(), dir.c_str()) != 0) fail(detail::errno_text());
    } else {
        if (!S_ISDIR(st.st_mode)) fail("it exists and is not a directory");
        // One atomic step: `dir` now holds the new files and `staged` the old ones.
        if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0)
            fail(detail::errno_text());
        std::error_code ignored;
        std::filesystem::remove_all(staged, ignored);
    }
    detail::sync_parent_directory(dir);
}

// ---- OutputSet

namespace {

std::string path_key(const std::string& path) {
    std::error_code ignored;
    std::filesystem::path p = std::filesystem::absolute(path, ignored).lexically_normal();
    std::string key = p.string();
    while (key.size() > 1 && key.back() == '/') key.pop_back();  // "out/" is "out"
    return key;
}

bool same_file(const std::string& a, const std::string& b) {
    struct stat x {}, y {};
    return ::stat(a.c_str(), &x) == 0 && ::stat(b.c_str(), &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

std::string parent_of(const std::string& key) {
    const std::string parent = std::filesystem::path(key).parent_path().string();
    return parent.empty() ? "/" : parent;
}

}  // namespace

OutputSet::~OutputSet() {
    if (committed_) return;
    for (const Entry& e : entries_) {
        if (e.temp.empty()) continue;
        std::error_code ignored;
        std::filesystem::remove_all(e.temp, ignored);
    }
}

void OutputSet::input(const std::string& path, const std::string& what) { inputs_.emplace_back(path, what); }

void OutputSet::check_free(const std::string& path, const std::string& key, const std::string& what) const {
    for (const Entry& e : entries_)
        if (e.key == key)
            throw InputError(path + ": would be written twice, as " + e.what + " and as " + what + "; rename one");
    for (const auto& [input, input_what] : inputs_)
        if (path_key(input) == key || same_file(input, path))
            throw InputError(path + ": is " + input_what + ", which " + what + " would overwrite; write it elsewhere");
}

void OutputSet::plan(const std::string& path, const std::string& what, bool make_directory) {
    const std::string key = path_key(path);
    check_free(path, key, what);
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        throw InputError(path + ": is a directory; expected a file name to write (" + what + ")");
    const std::string dir = parent_of(key);
    for (const Entry& e : entries_)
        if (e.directory && e.key == dir && !e.created)
            throw InputError(path + ": is inside " + e.what + ", which is replaced as a whole");
    if (::stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            throw InputError(path + ": cannot write there: " + std::filesystem::path(path).parent_path().string() +
                             " exists and is not a directory");
        if (::access(dir.c_str(), W_OK) != 0) throw InputError(path + ": cannot write there: " + detail::errno_text());
    } else if (!make_directory) {
        check_output_path(path);  // says which directory is missing
    } else if (std::none_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == dir; })) {
        check_output_path(dir);
        entries_.push_back({dir, dir, "the directory of " + what, "", true, true});
    }
    entries_.push_back({path, key, what, "", false});
}

void OutputSet::plan_directory(const std::string& dir, const std::string& what) {
    const std::string key = path_key(dir);
    check_free(dir, key, what);
    for (const Entry& e : entries_)
        if (!e.directory && parent_of(e.key) == key)
            throw InputError(e.path + ": is inside " + what + ", which is replaced as a whole");
    entries_.push_back({dir, key, what, "", true});
}

OutputSet::Entry& OutputSet::planned(const std::string& path, bool directory) {
    const std::string key = path_key(path);
    for (Entry& e : entries_)
        if (e.key == key && e.directory == directory) return e;
    throw std::logic_error("OutputSet: " + path + " was not planned");
}

void OutputSet::write(const std::string& path, std::string_view bytes) {
    Entry& file = planned(path, false);
    const std::string dir = parent_of(file.key);
    for (Entry& e : entries_)
        if (e.directory && e.key == dir) {  // a missing directory: the file goes into its temporary
            if (e.temp.empty()) e.temp = make_staging_directory(e.path);
            detail::write_file_atomically((std::filesystem::path(e.temp) / std::filesystem::path(file.key).filename()).string(),
                                          bytes);
            return;
        }
    if (!file.temp.empty()) ::unlink(file.temp.c_str());
    file.temp = detail::write_temporary(path, bytes);
}

void OutputSet::write_npy(const std::string& path, const Matrix& values) { write(path, detail::npy_bytes(values)); }

std::string OutputSet::stage_directory(const std::string& dir) {
    Entry& e = planned(dir, true);
    if (e.temp.empty()) e.temp = make_staging_directory(e.path);
    return e.temp;
}

void OutputSet::commit() {
    for (Entry& e : entries_)
        if (!e.directory && !e.temp.empty()) {
            const std::string temp = std::move(e.temp);
            e.temp.clear();
            detail::commit_temporary(temp, e.path);
        }
    for (Entry& e : entries_)
        if (e.directory && !e.temp.empty()) {
            const std::string temp = std::move(e.temp);
            e.temp.clear();
            publish_directory(temp, e.path);
        }
    committed_ = true;
}

}  // namespace matgrad::io
