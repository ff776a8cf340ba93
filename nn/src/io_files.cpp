// Whole-file reads, atomic file writes (temporary file + fsync + rename) and atomic replacement of
// a whole directory (the model directory of `matgrad train`).
#include "io_files.hpp"

#include <nn/io.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fcntl.h>
#include <sys/mman.h>
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

/// Opens `path` for reading; InputError naming it when it is missing, unreadable or a directory.
int open_for_reading(const std::string& path, struct stat& st) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw InputError(path + ": cannot open: " + errno_text());
    FdGuard guard{fd};
    if (::fstat(fd, &st) != 0) throw InputError(path + ": cannot read: " + errno_text());
    if (S_ISDIR(st.st_mode)) throw InputError(path + ": is a directory, not a file");
    guard.fd = -1;
    return fd;
}

}  // namespace

std::string read_file_bytes(const std::string& path) {
    struct stat st {};
    const int fd = open_for_reading(path, st);
    FdGuard guard{fd};

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
    }
    return bytes;
}

FileBytes::FileBytes(const std::string& path) {
    struct stat st {};
    const int fd = open_for_reading(path, st);
    FdGuard guard{fd};
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        const auto size = static_cast<std::size_t>(st.st_size);
        void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map != MAP_FAILED) {
            ::madvise(map, size, MADV_SEQUENTIAL);
            map_ = map;
            bytes_ = {static_cast<const char*>(map), size};
            return;
        }
    }
    if (S_ISREG(st.st_mode) && st.st_size == 0) return;
    owned_ = read_file_bytes(path);  // a pipe, or a file mmap refuses
    bytes_ = owned_;
}

FileBytes::~FileBytes() {
    if (map_ != nullptr) ::munmap(map_, bytes_.size());
}

void FileBytes::release(std::size_t begin, std::size_t end) {
    static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    begin = (begin + page - 1) / page * page;
    end = std::min(end, bytes_.size()) / page * page;
    if (map_ != nullptr && begin < end) ::madvise(static_cast<char*>(map_) + begin, end - begin, MADV_DONTNEED);
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
    AtomicFileWriter file(path);
    file.write(bytes);
    file.commit();
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

void AtomicFileWriter::commit() {
    if (::fsync(fd_) != 0) fail("write (fsync)");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("write (close)");
    if (::rename(temp_.c_str(), path_.c_str()) != 0) fail("write (rename)");
    temp_.clear();
    detail::sync_parent_directory(path_);
}

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

std::string read_text_file(const std::string& path) { return detail::read_file_bytes(path); }

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

}  // namespace matgrad::io
