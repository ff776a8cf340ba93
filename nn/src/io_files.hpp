// Internal to the io implementation: whole-file reads and the atomic file write both readers and
// writers share. Not installed.
#pragma once

#include <string>
#include <string_view>

namespace matgrad::io::detail {

/// The whole contents of `path` (a regular file or a pipe). Throws InputError naming the file
/// when it is missing, unreadable or a directory.
std::string read_file_bytes(const std::string& path);

/// The contents of `path` for one forward pass: a regular file memory-mapped read-only (so a big
/// file costs no copy), anything else (a pipe) read whole. Errors as read_file_bytes.
class FileBytes {
public:
    explicit FileBytes(const std::string& path);
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

/// `text` made safe for a one-line message: control bytes become '?', long text is cut with "...".
std::string printable(std::string_view text, std::size_t max_length = 40);

}  // namespace matgrad::io::detail
