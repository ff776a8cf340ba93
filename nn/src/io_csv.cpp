// Numeric CSV: a header line of column names, then rows of finite numbers. Every problem is an
// InputError naming the file, the line (1 = the header) and the column (1-based, with its name).
#include "io_files.hpp"

#include <nn/io.hpp>

#include <charconv>
#include <cmath>
#include <set>

namespace matgrad::io {
namespace {

std::string_view trim(std::string_view s) {
    const auto blank = [](char c) { return c == ' ' || c == '\t'; };
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && blank(s.back())) s.remove_suffix(1);
    return s;
}

/// A cell without surrounding spaces and, if it has them, one pair of surrounding double quotes.
std::string_view unquote(std::string_view cell) {
    cell = trim(cell);
    if (cell.size() >= 2 && cell.front() == '"' && cell.back() == '"')
        cell = trim(cell.substr(1, cell.size() - 2));
    return cell;
}

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    for (std::size_t start = 0;;) {
        const std::size_t comma = line.find(',', start);
        fields.push_back(unquote(line.substr(start, comma - start)));
        if (comma == std::string_view::npos) return fields;
        start = comma + 1;
    }
}

enum class NumberStatus { ok, not_a_number, out_of_range, not_finite };

NumberStatus parse_number(std::string_view cell, double& value) {
    if (!cell.empty() && cell.front() == '+') cell.remove_prefix(1);  // from_chars refuses '+'
    const char* end = cell.data() + cell.size();
    const auto [ptr, ec] = std::from_chars(cell.data(), end, value);
    if (ec == std::errc::invalid_argument || ptr != end) return NumberStatus::not_a_number;
    if (ec == std::errc::result_out_of_range) return NumberStatus::out_of_range;
    if (!std::isfinite(value)) return NumberStatus::not_finite;
    return NumberStatus::ok;
}

/// The file's lines without their '\n' or "\r\n", and without the empty lines at the end.
std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    for (std::size_t start = 0; start < text.size();) {
        std::size_t newline = text.find('\n', start);
        if (newline == std::string_view::npos) newline = text.size();
        std::string_view line = text.substr(start, newline - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        start = newline + 1;
    }
    while (!lines.empty() && trim(lines.back()).empty()) lines.pop_back();
    return lines;
}

}  // namespace

CsvTable parse_csv(std::string_view text, const std::string& name) {
    constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";
    if (text.substr(0, utf8_bom.size()) == utf8_bom) text.remove_prefix(utf8_bom.size());
    const std::vector<std::string_view> lines = split_lines(text);
    if (lines.empty())
        throw InputError(name + ": is empty; expected a header line of column names, then rows "
                                "of numbers");

    CsvTable table;
    std::set<std::string_view> seen;
    std::size_t numeric_names = 0;
    for (const std::string_view field : split_fields(lines[0])) {
        const std::string column = std::to_string(table.header.size() + 1);
        if (field.empty())
            throw InputError(name + ": line 1, column " + column + ": empty column name");
        if (!seen.insert(field).second)
            throw InputError(name + ": line 1, column " + column + ": duplicate column name '" +
                             detail::printable(field) + "'");
        double ignored;
        if (parse_number(field, ignored) == NumberStatus::ok) ++numeric_names;
        table.header.emplace_back(field);
    }
    const std::size_t cols = table.header.size();
    if (numeric_names == cols)
        throw InputError(name + ": line 1 holds numbers, not column names; the CSV needs a header "
                                "line");
    if (lines.size() == 1)
        throw InputError(name + ": has a header line but no data rows");

    const std::size_t rows = lines.size() - 1;
    Matrix values({rows, cols});
    for (std::size_t r = 0; r < rows; ++r) {
        const std::string where = name + ": line " + std::to_string(r + 2);
        if (trim(lines[r + 1]).empty()) throw InputError(where + ": empty line");
        const std::vector<std::string_view> fields = split_fields(lines[r + 1]);
        if (fields.size() != cols)
            throw InputError(where + ": has " + std::to_string(fields.size()) +
                             " fields but the header has " + std::to_string(cols));
        for (std::size_t c = 0; c < cols; ++c) {
            const NumberStatus status = parse_number(fields[c], values(r, c));
            if (status == NumberStatus::ok) continue;
            const std::string cell = "'" + detail::printable(fields[c]) + "'";
            const std::string what =
                status == NumberStatus::out_of_range ? cell + " is out of range for a double"
                : status == NumberStatus::not_finite ? cell + " is not finite (NaN and Inf are refused)"
                : fields[c].empty()                  ? std::string("empty cell")
                                                     : cell + " is not a number";
            throw InputError(where + ", column " + std::to_string(c + 1) + " (" +
                             detail::printable(table.header[c]) + "): " + what);
        }
    }
    table.values = std::move(values);
    return table;
}

CsvTable read_csv(const std::string& path) {
    return parse_csv(detail::read_file_bytes(path), path);
}

}  // namespace matgrad::io
