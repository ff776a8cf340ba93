// Numeric CSV: a header line of column names, then rows of finite numbers, with RFC 4180 quoting.
// Every problem is an InputError naming the file, the line (1 = the header) and the column
// (1-based, with its name).
//
// One pass: each record is tokenized and its numbers converted straight into the caller's
// matrices; a plain number cell takes a fast path that reads it once (a plain decimal by Clinger's
// exact fast path, anything else by std::from_chars). Quoting errors
// are reported before any other problem (a misplaced quote can make every later complaint wrong),
// so another problem is thrown only after the rest of the file is scanned for them.
#include "io_files.hpp"

#include <nn/io.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>

namespace matgrad::io {
namespace {

std::string_view trim(std::string_view s) {
    const auto blank = [](char c) { return c == ' ' || c == '\t'; };
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && blank(s.back())) s.remove_suffix(1);
    return s;
}

enum class NumberStatus { ok, not_a_number, out_of_range, not_finite };

/// Clinger's fast path for the common number, a plain decimal such as -1.23456: reads the longest
/// "[-]digits[.digits]" at p and returns where it ends. When its digits, as an integer m, are at
/// most 2^53 and at most 22 follow the point, m and 10^k are exact doubles and one division rounds
/// correctly -- the value from_chars gives for that text, bit for bit, at a fraction of its cost.
/// Null (value untouched) when there is no such number there or it is not that simple (more
/// digits, a larger m): from_chars reads it then.
const char* plain_decimal(const char* p, const char* const end, double& value) {
    static constexpr double powers_of_10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                              1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                              1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const bool negative = p != end && *p == '-';
    p += negative;
    std::uint64_t digits_value = 0;
    int digits = 0, after_point = -1;  // -1: no point yet
    for (; p != end; ++p) {
        const unsigned digit = static_cast<unsigned char>(*p) - unsigned{'0'};
        if (digit < 10) {
            if (++digits > 19) return nullptr;  // 19 digits cannot overflow 64 bits
            digits_value = digits_value * 10 + digit;
            after_point += after_point >= 0;
        } else if (*p == '.' && after_point < 0) {
            after_point = 0;
        } else {
            break;
        }
    }
    if (digits == 0 || digits_value > (std::uint64_t{1} << 53) || after_point > 22) return nullptr;
    const double magnitude = static_cast<double>(digits_value) / powers_of_10[after_point < 0 ? 0 : after_point];
    value = negative ? -magnitude : magnitude;
    return p;
}

NumberStatus parse_number(std::string_view cell, double& value) {
    const char* const cell_end = cell.data() + cell.size();
    if (plain_decimal(cell.data(), cell_end, value) == cell_end) return NumberStatus::ok;  // finite, in range
    if (!cell.empty() && cell.front() == '+') cell.remove_prefix(1);  // from_chars refuses '+'
    const char* end = cell.data() + cell.size();
    const auto [ptr, ec] = std::from_chars(cell.data(), end, value);
    if (ec == std::errc::invalid_argument || ptr != end) return NumberStatus::not_a_number;
    if (ec == std::errc::result_out_of_range) return NumberStatus::out_of_range;
    if (!std::isfinite(value)) return NumberStatus::not_finite;
    return NumberStatus::ok;
}

/// A record's place and shape.
struct RecordShape {
    std::size_t line = 0;  ///< where the record starts (1 = the header)
    std::size_t fields = 0;
    bool blank = false;  ///< one field of nothing but spaces
};

// Each kind of cells has restart(): forget the record so far, it is parsed again from its start
// (Source::next_record, when the record ran into the end of the file's window).

/// Cells that are only tokenized (the scan for quoting errors, blank lines).
struct SkipCells {
    static constexpr bool numbers = false;
    void field(std::size_t, std::string_view) {}
    void number(std::size_t, double) {}
    void restart() {}
};

struct HeaderCells {
    static constexpr bool numbers = false;
    std::vector<std::string> names;
    void field(std::size_t, std::string_view text) { names.emplace_back(text); }
    void number(std::size_t, double) {}
    void restart() { names.clear(); }
};

/// A data record's cells into the target rows (`rows[c]` already at this sample; null: dropped;
/// `skipped[c]`: not read at all); the first bad cell is kept for the message.
struct DataCells {
    static constexpr bool numbers = true;
    const std::vector<double*>& rows;
    const std::vector<bool>& skipped;
    std::size_t sample = 0;
    struct Bad {
        std::size_t column;
        NumberStatus status;
        std::string text;
    };
    std::optional<Bad> bad;

    void number(std::size_t c, double value) {
        if (c < rows.size() && rows[c] != nullptr) rows[c][sample] = value;
    }
    void field(std::size_t c, std::string_view text) {
        if (c >= rows.size() || skipped[c]) return;
        double value = 0;
        const NumberStatus status = parse_number(text, value);
        if (status == NumberStatus::ok) number(c, value);
        else if (!bad) bad = Bad{c, status, std::string(text)};
    }
    void restart() { bad.reset(); }
};

}  // namespace

/// The text and the tokenizer's place in it. A regular file is read a window at a time (pread),
/// never mapped: the memory is the window (grown for a record longer than it), and a file that
/// shrinks while it is read is an InputError, not a SIGBUS. Text in memory, or a pipe's read
/// whole, is one window that reaches the end.
struct CsvReader::Source {
    static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
    std::optional<detail::InputFile> file;
    std::string window;       // a file's bytes from window_start
    std::string_view text;    // the bytes at hand: `window`, or all of the text
    std::uint64_t window_start = 0;
    std::size_t window_bytes = 0;  // read at a time
    bool whole = true;        // `text` reaches the end of the input
    std::size_t pos = 0, line = 1;
    std::size_t keep = none;  // a position in `text` that reading on must keep (only_blank_records_left)
    std::size_t rows_bound = 0;  // data rows in the file: lines, so at most (but a lone '\r' after
                                 // a quoted field also ends a record; read_all grows then)
    std::string quoted;  // the current quoted field, unescaped
    const std::string* name = nullptr;

    /// The file's window moved on: the text before `pos` (and `keep`) dropped, at least
    /// window_bytes more read, and as much again as is left unparsed, so that a long record takes
    /// few rounds.
    void read_more() {
        const std::size_t drop = std::min(pos, keep);
        window.erase(0, drop);
        window_start += drop;
        pos -= drop;
        if (keep != none) keep -= drop;
        const std::uint64_t end = window_start + window.size();
        const auto more = static_cast<std::size_t>(
            std::min<std::uint64_t>(std::max(window_bytes, window.size() - pos), file->size - end));
        const std::size_t had = window.size();
        window.resize(had + more);
        detail::read_exactly_at(file->fd, end, window.data() + had, more, *name,
                                "run again once it is complete");
        text = window;
        whole = end + more == file->size;
    }

    /// Bytes of the input from `pos` to its end, a piece at a time, to f (the window is unchanged).
    template <class F>
    void each_piece_to_end(F&& f) const {
        f(text.substr(pos));
        if (whole) return;
        std::string piece(std::max<std::size_t>(window_bytes, std::size_t{1} << 16), '\0');
        for (std::uint64_t at = window_start + text.size(); at < file->size;) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), file->size - at));
            detail::read_exactly_at(file->fd, at, piece.data(), n, *name, "run again once it is complete");
            f(std::string_view(piece.data(), n));
            at += n;
        }
    }

    /// True at the end of the input (reading on if the window ends first).
    bool at_end() {
        if (pos >= text.size() && !whole) read_more();
        return pos >= text.size();
    }

    /// record(), reading on while a record runs into the end of the window (it may go on in the
    /// file): it is then parsed again from its start with more text.
    template <class Cells>
    RecordShape next_record(Cells& cells) {
        for (;;) {
            const std::size_t start = pos, start_line = line;
            const RecordShape shape = record(cells);
            if (whole || pos < text.size()) return shape;
            pos = start;
            line = start_line;
            cells.restart();
            read_more();
        }
    }
    /// One record from `pos` (RFC 4180; a quote that opens inside an unquoted field, text after a
    /// closing quote, or a quote never closed throws, naming the line).
    template <class Cells>
    RecordShape record(Cells& cells) {
        const char* const s = text.data();
        const std::size_t size = text.size();
        const auto blank = [&](std::size_t at) { return s[at] == ' ' || s[at] == '\t'; };
        std::size_t i = pos;
        RecordShape shape{line, 0, false};
        bool any_text = false;
        for (bool more = true; more;) {  // one field per pass
            while (i < size && blank(i)) ++i;
            const std::size_t column = shape.fields++;
            if (Cells::numbers && fast_number(i, column, cells)) {
                any_text = true;
            } else if (i < size && s[i] == '"') {
                quoted.clear();
                const std::size_t opened = line;
                for (++i;; ++i) {
                    if (i >= size && !whole) {  // the window's end: next_record reads on
                        pos = size;
                        return shape;
                    }
                    if (i >= size)
                        throw InputError(*name + ": line " + std::to_string(opened) +
                                         ": a quoted field is never closed (missing '\"')");
                    if (s[i] == '"') {
                        if (i + 1 < size && s[i + 1] == '"') { quoted += '"'; ++i; continue; }
                        ++i;
                        break;
                    }
                    if (s[i] == '\n') ++line;
                    quoted += s[i];
                }
                while (i < size && blank(i)) ++i;
                if (i < size && s[i] != ',' && s[i] != '\n' && s[i] != '\r')
                    throw InputError(*name + ": line " + std::to_string(line) +
                                     ": text after a closing quote; quote the whole field, with \"\" for a quote inside");
                cells.field(column, trim(quoted));
                any_text = true;
            } else {
                const std::size_t start = i;
                while (i < size && s[i] != ',' && s[i] != '\n' && !(s[i] == '\r' && i + 1 < size && s[i + 1] == '\n'))
                    ++i;
                if (i >= size && !whole) {  // the field may go on past the window (and its message with it)
                    pos = size;
                    return shape;
                }
                const std::string_view field = trim(text.substr(start, i - start));
                if (field.find('"') != std::string_view::npos)
                    throw InputError(*name + ": line " + std::to_string(line) + ": a quote inside an unquoted field '" +
                                     detail::printable(field) + "'; quote the whole field, with \"\" for a quote inside");
                any_text = any_text || !field.empty();
                cells.field(column, field);
            }
            if (i < size && s[i] == ',') {
                ++i;
                any_text = true;
            } else {
                more = false;
                if (i < size && s[i] == '\r') ++i;
                if (i < size && s[i] == '\n') { ++i; ++line; }
            }
        }
        shape.blank = !any_text;
        pos = i;
        return shape;
    }

    /// A plain number (spaces around it allowed) ending its field: converted once, `i` moved to
    /// the field's end. Anything else is left to the general path, which also words the errors.
    template <class Cells>
    bool fast_number(std::size_t& i, std::size_t column, Cells& cells) const {
        const char* p = text.data() + i;
        const char* const end = text.data() + text.size();
        if (p < end && *p == '+') ++p;
        // Where the field ends after a number that ends at q (spaces may follow it); null if it
        // goes on.
        const auto field_end = [end](const char* q) -> const char* {
            while (q < end && (*q == ' ' || *q == '\t')) ++q;
            return q == end || *q == ',' || *q == '\n' || (*q == '\r' && q + 1 < end && q[1] == '\n') ? q : nullptr;
        };
        double value = 0;
        const char* number_end = plain_decimal(p, end, value);
        const char* q = number_end != nullptr ? field_end(number_end) : nullptr;
        if (q == nullptr) {  // an exponent, many digits, ...: from_chars reads it
            const auto [ptr, ec] = std::from_chars(p, end, value);
            if (ec != std::errc() || !std::isfinite(value) || (q = field_end(ptr)) == nullptr) return false;
        }
        cells.number(column, value);
        i = static_cast<std::size_t>(q - text.data());
        return true;
    }

    /// True (and at the end) if only blank records remain; otherwise the position is unchanged.
    bool only_blank_records_left() {
        const std::size_t saved_line = line;
        keep = pos;  // moved along when the window moves
        SkipCells skip;
        while (!at_end())
            if (!next_record(skip).blank) {
                pos = keep;
                keep = none;
                line = saved_line;
                return false;
            }
        keep = none;
        return true;
    }

    /// Throws `message`, unless the rest of the file has a quoting error: that one is thrown.
    [[noreturn]] void fail(const std::string& message) {
        SkipCells skip;
        while (!at_end()) next_record(skip);
        throw InputError(message);
    }
};

CsvReader::CsvReader(const std::string& path, std::size_t window_bytes)
    : source_(std::make_unique<Source>()), name_(path) {
    Source& src = *source_;
    src.name = &name_;
    src.file.emplace(path, kMaxCsvFileBytes, "a CSV file");
    if (src.file->fd < 0) {
        src.text = src.file->contents;  // a pipe, read whole
    } else {
        src.window_bytes = std::max<std::size_t>(window_bytes, 1);
        src.whole = src.file->size == 0;
    }
    start();
}

CsvReader::CsvReader(std::string_view text, std::string name)
    : source_(std::make_unique<Source>()), name_(std::move(name)) {
    source_->name = &name_;
    source_->text = text;
    start();
}

void CsvReader::start() {
    Source& src = *source_;
    constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";
    while (src.text.size() < utf8_bom.size() && !src.whole) src.read_more();
    if (src.text.substr(0, utf8_bom.size()) == utf8_bom) src.pos = utf8_bom.size();
    if (src.only_blank_records_left())
        throw InputError(name_ + ": is empty; expected a header line of column names, then rows of numbers");

    HeaderCells cells;
    src.next_record(cells);
    header_ = std::move(cells.names);
    std::set<std::string_view> seen;
    std::size_t numeric_names = 0;
    // pandas' DataFrame.to_csv() writes the row index as a first column with an empty name (and
    // read_csv() then calls it "Unnamed: 0"): a column of row numbers, not a feature.
    if (header_.size() > 1 && (header_[0].empty() || header_[0] == "Unnamed: 0"))
        src.fail(name_ + ": line 1, column 1: " + (header_[0].empty() ? "empty column name" : "column 'Unnamed: 0'") +
                 ": this looks like the row index pandas writes; pass index=False to DataFrame.to_csv() "
                 "(or drop the column)");
    for (std::size_t c = 0; c < header_.size(); ++c) {
        const std::string column = std::to_string(c + 1);
        if (header_[c].empty()) src.fail(name_ + ": line 1, column " + column + ": empty column name");
        if (!seen.insert(header_[c]).second)
            src.fail(name_ + ": line 1, column " + column + ": duplicate column name '" +
                     detail::printable(header_[c]) + "'");
        double ignored;
        if (parse_number(header_[c], ignored) == NumberStatus::ok) ++numeric_names;
    }
    if (numeric_names == header_.size())
        src.fail(name_ + ": line 1 holds numbers, not column names; the CSV needs a header line");

    // The lines after the header, without the blank ones at the end: the line breaks, less those
    // after the last text, and one for the last line.
    std::size_t breaks = 0, breaks_after_text = 0;
    bool any_text = false;
    src.each_piece_to_end([&](std::string_view piece) {
        const auto count = [](std::string_view s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); };
        breaks += count(piece);
        const std::size_t last = piece.find_last_not_of(" \t\r\n");
        if (last == std::string_view::npos) {
            breaks_after_text += count(piece);
        } else {
            any_text = true;
            breaks_after_text = count(piece.substr(last + 1));
        }
    });
    src.rows_bound = breaks - breaks_after_text + any_text;
}

CsvReader::~CsvReader() = default;

std::size_t CsvReader::rows_bound() const { return source_->rows_bound; }

double CsvReader::fraction_read() const {
    const Source& src = *source_;
    const std::uint64_t size = src.file && src.file->fd >= 0 ? src.file->size : src.text.size();
    return size == 0 ? 1.0 : static_cast<double>(src.window_start + src.pos) / static_cast<double>(size);
}

std::size_t CsvReader::read(const std::vector<ColumnTarget>& targets, std::size_t first, std::size_t count) {
    Source& src = *source_;
    const std::size_t cols = header_.size();
    if (targets.size() != cols)
        throw std::invalid_argument("CsvReader::read: " + std::to_string(targets.size()) + " targets for " +
                                    std::to_string(cols) + " columns");
    std::vector<double*> rows(cols, nullptr);
    std::vector<bool> skipped(cols, false);
    for (std::size_t c = 0; c < cols; ++c) {
        skipped[c] = targets[c].skip;
        if (Matrix* m = targets[c].matrix) {
            if (targets[c].skip) throw std::invalid_argument("CsvReader::read: a target both skipped and filled");
            if (targets[c].row >= m->shape(0) || first + count > m->shape(1))
                throw std::invalid_argument("CsvReader::read: a target matrix is too small");
            rows[c] = m->data() + targets[c].row * m->shape(1) + first;
        }
    }
    DataCells cells{rows, skipped, 0, std::nullopt};
    std::size_t k = 0;
    for (; k < count && !src.at_end(); ++k) {
        cells.sample = k;
        cells.bad.reset();
        const RecordShape shape = src.next_record(cells);
        const auto where = [&] { return name_ + ": line " + std::to_string(shape.line); };
        if (shape.blank) {
            if (src.only_blank_records_left()) break;  // blank lines at the end are ignored
            src.fail(where() + ": empty line");
        }
        if (shape.fields != cols)
            src.fail(where() + ": has " + std::to_string(shape.fields) + " fields but the header has " +
                     std::to_string(cols));
        if (const auto& bad = cells.bad) {
            const std::string cell = "'" + detail::printable(bad->text) + "'";
            const std::string what =
                bad->status == NumberStatus::out_of_range ? cell + " is out of range for a double"
                : bad->status == NumberStatus::not_finite ? cell + " is not finite (NaN and Inf are refused)"
                : bad->text.empty()                        ? std::string("empty cell")
                                                           : cell + " is not a number";
            src.fail(where() + ", column " + std::to_string(bad->column + 1) + " (" +
                     detail::printable(header_[bad->column]) + "): " + what);
        }
    }
    rows_ += k;
    if (rows_ == 0 && count > 0) throw InputError(name_ + ": has a header line but no data rows");
    return k;
}

namespace {

/// Gives each distinct target matrix `columns` columns, keeping its first `keep`.
void resize_targets(const std::vector<ColumnTarget>& targets, std::size_t columns, std::size_t keep) {
    std::set<Matrix*> done;
    for (const ColumnTarget& t : targets) {
        if (t.matrix == nullptr || !done.insert(t.matrix).second) continue;
        Matrix& m = *t.matrix;
        if (m.shape(1) == columns) continue;
        Matrix resized({m.shape(0), columns});
        for (std::size_t r = 0; r < m.shape(0); ++r)
            std::copy_n(m.data() + r * m.shape(1), keep, resized.data() + r * columns);
        m = std::move(resized);
    }
}

}  // namespace

void CsvReader::read_all(const std::vector<ColumnTarget>& targets, const std::function<void(double)>& progress) {
    constexpr std::size_t block = 1 << 16;  // rows between progress reports
    std::size_t capacity = std::max<std::size_t>(source_->rows_bound, 1), n = 0;
    resize_targets(targets, capacity, 0);
    for (;;) {
        if (n == capacity) {
            if (source_->at_end() || source_->only_blank_records_left()) break;
            capacity += capacity / 2 + 1;
            resize_targets(targets, capacity, n);
        }
        const std::size_t got = read(targets, n, std::min(block, capacity - n));
        if (got == 0) break;
        n += got;
        if (progress) progress(fraction_read());
    }
    resize_targets(targets, n, n);
}

namespace {

CsvTable read_table(CsvReader& reader) {
    CsvTable table{reader.header(), Matrix({reader.header().size(), std::size_t{0}})};
    std::vector<ColumnTarget> targets;
    for (std::size_t c = 0; c < table.header.size(); ++c) targets.push_back({&table.values, c});
    reader.read_all(targets);
    return table;
}

}  // namespace

CsvTable parse_csv(std::string_view text, const std::string& name) {
    CsvReader reader(text, name);
    return read_table(reader);
}

CsvTable read_csv(const std::string& path) {
    CsvReader reader(path);
    return read_table(reader);
}

}  // namespace matgrad::io
