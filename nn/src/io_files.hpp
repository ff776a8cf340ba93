// Internal to the io implementation: whole-file reads and the atomic file write both readers and
// writers share. Not installed.
#pragma once

#include <autodiff/tape.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace matgrad::io::detail {

/// The whole contents of `path` (a regular file or a pipe). Throws InputError naming the file
/// when it is missing, unreadable, a directory or a device (/dev/zero never ends), or holds more
/// than `max_bytes` -- then reading stops there; `kind` names what may hold that much ("a CSV
/// file").
std::string read_file_bytes(const std::string& path, std::size_t max_bytes, const char* kind);

/// `path` opened to be read a piece at a time: a regular file stays open (`fd`, read with
/// read_exactly_at; `size` when opened), anything else (a pipe) is read whole into `contents`, up to
/// `max_pipe_bytes` (`fd` is then -1). Errors as read_file_bytes.
struct InputFile {
    InputFile(const std::string& path, std::size_t max_pipe_bytes, const char* kind);
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;
    ~InputFile();
    int fd = -1;
    std::uint64_t size = 0;
    std::string contents;
};

/// Reads `bytes` bytes at `offset` of the open file `fd` (pread, whatever it returns at a time)
/// into `into`. The file ending sooner (it shrank since its size was taken) is an InputError
/// "`path`: was truncated while being read; `advice`" -- never a crash, as reading through a
/// mapping would be (SIGBUS).
void read_exactly_at(int fd, std::uint64_t offset, char* into, std::size_t bytes, const std::string& path,
                     const char* advice);

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
