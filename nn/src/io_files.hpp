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

/// Writes `bytes` to a temporary file beside `path`, fsyncs it and renames it over `path`.
/// Throws std::runtime_error naming `path`; `path` is then untouched and no temporary remains.
void write_file_atomically(const std::string& path, std::string_view bytes);

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
