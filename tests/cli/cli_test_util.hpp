// Helpers of the io/CLI tests: a scratch directory per test, file bytes in and out, running the
// matgrad executable, and hand-built .npy files.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace matgrad::test {

namespace fs = std::filesystem;

/// A fresh, empty directory, removed with everything in it at the end of the test.
class ScratchDir {
public:
    explicit ScratchDir(const std::string& tag) {
        static int counter = 0;
        path_ = fs::temp_directory_path() /
                ("matgrad-test-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~ScratchDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }
    const fs::path& path() const { return path_; }
    /// Names of the entries in the directory, sorted (to see that nothing else appeared).
    std::vector<std::string> entries() const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(path_)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }

private:
    fs::path path_;
};

inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/// A .npy file's bytes from its parts, so tests can build every dtype, order and corruption.
/// `header` is the dict text, e.g. "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".
inline std::string npy_bytes(const std::string& header, const std::string& data, int major = 1) {
    std::string dict = header;
    const std::size_t length_bytes = major == 1 ? 2 : 4;
    while ((8 + length_bytes + dict.size() + 1) % 64 != 0) dict += ' ';
    dict += '\n';
    std::string bytes = "\x93NUMPY";
    bytes += static_cast<char>(major);
    bytes += '\0';
    for (std::size_t i = 0; i < length_bytes; ++i) bytes += static_cast<char>((dict.size() >> (8 * i)) & 0xff);
    return bytes + dict + data;
}

inline std::string npy_header(const std::string& descr, bool fortran, const std::string& shape) {
    return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
           ", 'shape': " + shape + ", }";
}

/// The bytes of `values` stored as T, in the host's (little-endian) byte order or reversed.
template <class T>
std::string raw_bytes(const std::vector<T>& values, bool big_endian = false) {
    std::string out;
    for (const T& v : values) {
        char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        if (big_endian) std::reverse(b, b + sizeof(T));
        out.append(b, sizeof(T));
    }
    return out;
}

#ifdef MATGRAD_EXE
struct RunResult {
    int status;
    std::string out, err;
};

/// Runs the matgrad executable with `args` (each passed as one word) and captures its output.
inline RunResult run_matgrad(const std::vector<std::string>& args, const ScratchDir& scratch) {
    auto quote = [](const std::string& s) {
        std::string q = "'";
        for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
        return q + "'";
    };
    std::string command = quote(MATGRAD_EXE);
    for (const std::string& a : args) command += " " + quote(a);
    const std::string out = scratch / ".stdout", err = scratch / ".stderr";
    command += " > " + quote(out) + " 2> " + quote(err);
    const int raw = std::system(command.c_str());
    RunResult r{WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, read_file(out), read_file(err)};
    fs::remove(out);
    fs::remove(err);
    return r;
}
#endif

inline std::string data_file(const std::string& name) { return std::string(MATGRAD_DATA_DIR) + "/" + name; }

}  // namespace matgrad::test
