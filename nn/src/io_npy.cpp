// The .npy format (numpy's NEP 1): magic "\x93NUMPY", a version, a little-endian header length, a
// Python dict literal {'descr': '<f8', 'fortran_order': False, 'shape': (r, c)}, then the raw
// elements. Parsed by hand so that every hostile byte ends in an InputError, never a crash or a
// huge allocation: the data size is checked against the file before anything is allocated.
#include "io_files.hpp"

#include <nn/io.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>

namespace matgrad::io {
namespace {

constexpr std::string_view npy_magic = "\x93NUMPY";
constexpr bool host_is_little_endian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

/// The three entries of the header dict.
struct NpyHeader {
    std::string descr;
    bool fortran_order = false;
    std::vector<std::uint64_t> shape;
};

/// A recursive-descent parser for the restricted Python literal numpy writes: a dict of
/// quoted-string keys to quoted strings, True/False, or tuples of non-negative integers.
class HeaderParser {
public:
    HeaderParser(std::string_view text, const std::string& file) : text_(text), file_(file) {}

    NpyHeader parse() {
        NpyHeader header;
        bool seen_descr = false, seen_fortran = false, seen_shape = false;
        expect('{');
        while (!try_consume('}')) {
            const std::string key = parse_string();
            expect(':');
            auto once = [&](bool& seen) {
                if (seen) fail("the key '" + key + "' appears twice");
                seen = true;
            };
            if (key == "descr") {
                once(seen_descr);
                skip_spaces();
                if (pos_ < text_.size() && text_[pos_] == '[')
                    fail("structured dtypes (a list as 'descr') are not supported; save a plain "
                         "float64 array");
                header.descr = parse_string();
            } else if (key == "fortran_order") {
                once(seen_fortran);
                header.fortran_order = parse_bool();
            } else if (key == "shape") {
                once(seen_shape);
                header.shape = parse_shape();
            } else {
                fail("unexpected key '" + detail::printable(key) + "'");
            }
            if (!try_consume(',')) {
                expect('}');
                break;
            }
        }
        skip_spaces();
        if (pos_ != text_.size()) fail("unexpected text after the closing '}'");
        if (!seen_descr || !seen_fortran || !seen_shape)
            fail("the header must have the keys 'descr', 'fortran_order' and 'shape'");
        return header;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw InputError(file_ + ": corrupt .npy header (at header byte " + std::to_string(pos_) +
                         "): " + what);
    }
    void skip_spaces() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                        text_[pos_] == '\t' || text_[pos_] == '\r'))
            ++pos_;
    }
    bool try_consume(char c) {
        skip_spaces();
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!try_consume(c)) fail(std::string("expected '") + c + "'");
    }
    std::string parse_string() {
        skip_spaces();
        if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
            fail("expected a quoted string");
        const char quote = text_[pos_++];
        const std::size_t end = text_.find(quote, pos_);
        if (end == std::string_view::npos) fail("unterminated string");
        std::string s(text_.substr(pos_, end - pos_));
        if (s.find('\\') != std::string::npos) fail("escapes in strings are not supported");
        pos_ = end + 1;
        return s;
    }
    bool parse_bool() {
        skip_spaces();
        for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
            if (text_.substr(pos_, std::strlen(word)) == word) {
                pos_ += std::strlen(word);
                return value;
            }
        }
        fail("expected True or False");
    }
    std::vector<std::uint64_t> parse_shape() {
        std::vector<std::uint64_t> shape;
        expect('(');
        while (!try_consume(')')) {
            shape.push_back(parse_dimension());
            if (!try_consume(',')) {
                expect(')');
                break;
            }
        }
        return shape;
    }
    std::uint64_t parse_dimension() {
        skip_spaces();
        const std::size_t start = pos_;
        std::uint64_t value = 0;
        while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
            if (value > (std::numeric_limits<std::uint64_t>::max() - 9) / 10)
                fail("a dimension is too large");
            value = value * 10 + static_cast<std::uint64_t>(text_[pos_++] - '0');
        }
        if (pos_ == start) fail("expected a non-negative integer dimension");
        if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 numpy wrote "10L"
        return value;
    }

    std::string_view text_;
    const std::string& file_;
    std::size_t pos_ = 0;
};

/// How one element is stored, from 'descr' such as "<f8", "|b1", ">i4".
struct ElementType {
    char kind;  // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
    std::size_t size;
    bool swap_bytes;
};

ElementType parse_descr(const std::string& descr, const std::string& file) {
    auto refuse = [&](const std::string& why) -> ElementType {
        throw InputError(file + ": dtype '" + detail::printable(descr) + "' " + why +
                         "; matgrad reads float64, float32, integers and bool");
    };
    if (descr.size() < 2) return refuse("is not a dtype numpy writes");
    const char order = descr[0], kind = descr[1];
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return refuse("has an unknown byte order");
    switch (kind) {
        case 'c': return refuse("(complex) cannot be converted to real numbers exactly");
        case 'O': return refuse("(Python objects) is not supported");
        case 'S': case 'U': case 'a': return refuse("(strings) is not numeric");
        case 'M': case 'm': return refuse("(dates/times) is not supported");
        case 'V': return refuse("(raw/structured records) is not supported");
        case 'f': case 'i': case 'u': case 'b': break;
        default: return refuse("is not a dtype numpy writes");
    }
    const std::string digits = descr.substr(2);
    if (digits.empty() || digits.size() > 2 || !std::all_of(digits.begin(), digits.end(),
                                          [](char c) { return c >= '0' && c <= '9'; }))
        return refuse("is not a dtype numpy writes");
    const std::size_t size = std::stoul(digits);
    const bool supported = (kind == 'f' && (size == 4 || size == 8)) ||
                           ((kind == 'i' || kind == 'u') &&
                            (size == 1 || size == 2 || size == 4 || size == 8)) ||
                           (kind == 'b' && size == 1);
    if (!supported) {
        if (kind == 'f' && size == 2) return refuse("(float16) is not supported");
        if (kind == 'f') return refuse("(extended precision) cannot be converted exactly");
        return refuse("has an unsupported element size");
    }
    if (order == '|' && size != 1) return refuse("needs a byte order ('<' or '>')");
    const bool file_little = order == '<' || (order != '>' && host_is_little_endian);
    return {kind, size, size > 1 && file_little != host_is_little_endian};
}

std::string dtype_name(const ElementType& type) {
    switch (type.kind) {
        case 'f': return "float" + std::to_string(8 * type.size);
        case 'i': return "int" + std::to_string(8 * type.size);
        case 'u': return "uint" + std::to_string(8 * type.size);
        default: return "bool";
    }
}

/// Reads one T stored at p, swapping bytes for the other byte order.
template <class T>
T load(const unsigned char* p, bool swap) {
    unsigned char bytes[sizeof(T)];
    std::memcpy(bytes, p, sizeof(T));
    if (swap) std::reverse(bytes, bytes + sizeof(T));
    T value;
    std::memcpy(&value, bytes, sizeof(T));
    return value;
}

/// A signed or unsigned integer element (types of 1, 2, 4, 8 bytes) as a double, or nothing when a
/// 64-bit value has no exact double.
template <class I8, class I16, class I32, class I64>
std::optional<double> integer_value(const unsigned char* p, const ElementType& t) {
    switch (t.size) {
        case 1: return load<I8>(p, false);
        case 2: return load<I16>(p, t.swap_bytes);
        case 4: return load<I32>(p, t.swap_bytes);
    }
    const I64 v = load<I64>(p, t.swap_bytes);
    const double d = static_cast<double>(v);
    // 2^63 (2^64 unsigned) is the one double that rounds out of I64's range: test before converting
    // back, which would be undefined behaviour.
    const double out_of_range = std::is_signed_v<I64> ? 9223372036854775808.0 : 18446744073709551616.0;
    if (d >= out_of_range || static_cast<I64>(d) != v) return std::nullopt;
    return d;
}

/// The element at p as a double, or nothing when it has no exact finite double value (a NaN or
/// Inf, a 64-bit integer beyond 2^53 that does not round-trip, a bool byte other than 0/1).
std::optional<double> element_value(const unsigned char* p, const ElementType& t) {
    switch (t.kind) {
        case 'b':
            if (*p > 1) return std::nullopt;
            return *p;
        case 'f': {
            const double v = t.size == 4 ? load<float>(p, t.swap_bytes) : load<double>(p, t.swap_bytes);
            if (!std::isfinite(v)) return std::nullopt;
            return v;
        }
        case 'i':
            return integer_value<std::int8_t, std::int16_t, std::int32_t, std::int64_t>(p, t);
        default:
            return integer_value<std::uint8_t, std::uint16_t, std::uint32_t, std::uint64_t>(p, t);
    }
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
    std::string s;
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
    return s;
}

/// Refuses everything but a non-empty 2-D shape (or, if `one_dimensional` is given, a 1-D shape,
/// taken as a column and flagged there), with a hint for the common 1-D mistake.
void check_two_dimensional(std::vector<std::uint64_t>& shape, const std::string& file, bool* one_dimensional) {
    if (one_dimensional != nullptr && shape.size() == 1) {
        *one_dimensional = true;
        shape.push_back(1);  // C and Fortran order agree on a column
    }
    if (shape.empty())
        throw InputError(file + ": is a 0-D scalar; matgrad needs a 2-D array (save it as 1x1, "
                                "e.g. np.array([[x]]))");
    if (shape.size() == 1)
        throw InputError(file + ": is 1-D with " + std::to_string(shape[0]) +  // a bias is a column, a label row a row
                         " values; matgrad needs a 2-D array: a column " + std::to_string(shape[0]) +
                         "x1 (a.reshape(-1, 1), e.g. a bias) or a row 1x" + std::to_string(shape[0]) +
                         " (a.reshape(1, -1)), whichever the model declares");
    if (shape.size() > 2)
        throw InputError(file + ": is " + std::to_string(shape.size()) + "-D (" +
                         shape_text(shape) + "); matgrad needs a 2-D array");
    if (shape[0] == 0 || shape[1] == 0)
        throw InputError(file + ": is empty (" + shape_text(shape) + ")");
}

}  // namespace

namespace {

Matrix parse_npy(std::string_view bytes, const std::string& name, std::string& dtype, bool* one_dimensional) {
    if (bytes.size() < npy_magic.size() + 2 || bytes.substr(0, npy_magic.size()) != npy_magic)
        throw InputError(name + ": not a .npy file (it does not start with \\x93NUMPY)");
    const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
    const int major = u[6], minor = u[7];
    if (major < 1 || major > 3)
        throw InputError(name + ": unsupported .npy format version " + std::to_string(major) +
                         "." + std::to_string(minor) + " (matgrad reads 1.x, 2.x and 3.x)");
    const std::size_t length_bytes = major == 1 ? 2 : 4;
    const std::size_t prefix = 8 + length_bytes;
    if (bytes.size() < prefix) throw InputError(name + ": truncated in the .npy preamble");
    std::uint64_t header_length = 0;
    for (std::size_t i = 0; i < length_bytes; ++i)
        header_length |= static_cast<std::uint64_t>(u[8 + i]) << (8 * i);
    if (header_length > bytes.size() - prefix)
        throw InputError(name + ": truncated: the header should be " +
                         std::to_string(header_length) + " bytes but the file ends after " +
                         std::to_string(bytes.size() - prefix));

    NpyHeader header = HeaderParser(bytes.substr(prefix, header_length), name).parse();
    const ElementType type = parse_descr(header.descr, name);
    dtype = dtype_name(type);
    const std::string shape_given = shape_text(header.shape);  // "64" for a 1-D file read as 64x1
    check_two_dimensional(header.shape, name, one_dimensional);

    // Sizes from the header are untrusted: compare them with the file before allocating.
    const std::uint64_t rows = header.shape[0], cols = header.shape[1];
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() / type.size;
    const bool overflows = rows > limit / cols;
    const std::uint64_t data_bytes = overflows ? 0 : rows * cols * type.size;
    const std::size_t available = bytes.size() - prefix - header_length;
    const std::string description = shape_given + " " + dtype_name(type);
    if (overflows || data_bytes > available)
        throw InputError(name + ": truncated: header says " + description + " (" +
                         (overflows ? std::string("more than 2^64") : std::to_string(data_bytes)) +
                         " bytes of data) but the file has " + std::to_string(available));
    if (data_bytes < available)
        throw InputError(name + ": corrupt: header says " + description + " (" +
                         std::to_string(data_bytes) + " bytes of data) but the file has " +
                         std::to_string(available - data_bytes) + " bytes more");

    Matrix m({static_cast<std::size_t>(rows), static_cast<std::size_t>(cols)});
    const unsigned char* data = u + prefix + header_length;
    const std::size_t count = static_cast<std::size_t>(rows * cols);
    for (std::size_t k = 0; k < count; ++k) {
        const std::size_t r = header.fortran_order ? k % rows : k / cols;
        const std::size_t c = header.fortran_order ? k / rows : k % cols;
        const std::optional<double> v = element_value(data + k * type.size, type);
        if (!v)
            throw InputError(name + ": element (" + std::to_string(r) + "," + std::to_string(c) +
                             ") of the " + description + " array " +
                             (type.kind == 'f'   ? "is NaN or Inf, which matgrad refuses"
                              : type.kind == 'b' ? "is not a valid bool byte (0 or 1)"
                                                 : "cannot be represented exactly as a double"));
        m(r, c) = *v;
    }
    return m;
}

}  // namespace

Matrix parse_npy(std::string_view bytes, const std::string& name) {
    std::string dtype;
    return parse_npy(bytes, name, dtype, nullptr);
}

namespace {

Matrix read_npy(const std::string& path, std::string& dtype, bool* one_dimensional) {
    // The largest matrix (kMaxMatrixElements) and a generous header.
    return parse_npy(detail::read_file_bytes(path, kMaxMatrixElements * sizeof(double) + (1 << 20), "a .npy file"), path,
                     dtype, one_dimensional);
}

}  // namespace

Matrix read_npy(const std::string& path) {
    std::string dtype;
    return read_npy(path, dtype, nullptr);
}

Matrix read_npy(const std::string& path, NpyInfo& info) {
    info.one_dimensional = false;
    return read_npy(path, info.dtype, &info.one_dimensional);
}

namespace detail {

std::string npy_preamble(std::size_t rows, std::size_t cols, bool fortran_order) {
    static_assert(host_is_little_endian, "the host's doubles are written as '<f8'");
    std::string header = "{'descr': '<f8', 'fortran_order': " + std::string(fortran_order ? "True" : "False") +
                         ", 'shape': (" + std::to_string(rows) + ", " + std::to_string(cols) + "), }";
    // Version 1.0: the preamble (10 bytes) + header, padded with spaces and ended by '\n', is a
    // multiple of 64 bytes so the data is aligned.
    const std::size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
    header.append(total - 10 - header.size() - 1, ' ');
    header += '\n';

    std::string bytes(npy_magic);
    bytes += '\x01';
    bytes += '\x00';
    bytes += static_cast<char>(header.size() & 0xff);
    bytes += static_cast<char>(header.size() >> 8);
    return bytes + header;
}

std::string npy_bytes(const Matrix& values) {
    // xtensor's default layout is row-major, which is the C order the header declares.
    std::string bytes = npy_preamble(values.shape(0), values.shape(1), false);
    bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
    return bytes;
}

}  // namespace detail

void write_npy(const std::string& path, const Matrix& values) { detail::write_file_atomically(path, detail::npy_bytes(values)); }

}  // namespace matgrad::io
