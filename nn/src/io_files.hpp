// Internal to the io implementation: whole-file reads and the atomic file write both readers and
// writers share. Not installed.
#pragma once

#include <autodiff/tape.hpp>

#include <string>
#include <string_view>

namespace matgrad::io::detail {

/// The whole contents of `path` (a regular file or a pipe). Throws InputError naming the file
/// when it is missing, unreadable, a directory or a device (/dev/zero never ends), or holds more
/// than `max_bytes` -- then reading stops there; `kind` names what may hold that much ("a CSV
/// file").
std::string read_file_bytes(const std::string& path, std::size_t max_bytes, const char* kind);

/// The contents of `path` for one forward pass: a regular file memory-mapped read-only (so a big
/// file costs no copy and has no cap), anything else (a pipe) read whole, up to `max_pipe_bytes`.
/// Errors as read_file_bytes.
class FileBytes {
public:
    FileBytes(const std::string& path, std::size_t max_pipe_bytes, const char* kind);
    FileBytes(const FileBytes&) = delete;
    FileBytes& operator=(const FileBytes&) = delete;
    ~FileBytes();
    std::string_view bytes() const { return bytes_; }
    /// Gives the mapped pages wholly inside [begin, end) back to the system: a reader that has
    /// passed them keeps only its window resident. They are read again from the file if touched.
    void release(std::size_t begin, std::size_t end);

private:
    std::string owned_;  // a pipe's contents
    void* map_ = nullptr;
    std::string_view bytes_;
};

/// Writes `bytes` to a temporary file beside `path`, fsyncs it and renames it over `path`.
/// Throws std::runtime_error naming `path`; `path` is then untouched and no temporary remains.
void write_file_atomically(const std::string& path, std::string_view bytes);

/// The .npy version 1.0 preamble (magic, version, header length and the header, padded so the data
/// starts 64-byte aligned) of a little-endian float64 array of shape rows x cols in C or Fortran
/// order. A features x samples Matrix's bytes after a Fortran-order preamble of samples x features
/// are the samples as numpy's rows.
std::string npy_preamble(std::size_t rows, std::size_t cols, bool fortran_order);

/// A temporary file beside `path` holding `bytes`, fsynced; the caller renames it over `path`
/// (commit_temporary) or removes it. Throws std::runtime_error naming `path` (no temporary remains).
std::string write_temporary(const std::string& path, std::string_view bytes);
/// Renames `temp` over `path` and makes the rename durable; on failure removes `temp` and throws.
void commit_temporary(const std::string& temp, const std::string& path);

/// The bytes of write_npy's file: a version 1.0, little-endian, C-order float64 .npy.
std::string npy_bytes(const Matrix& values);

/// `text` made safe for a one-line message: control bytes become '?', long text is cut with "...".
std::string printable(std::string_view text, std::size_t max_length = 40);

}  // namespace matgrad::io::detail
