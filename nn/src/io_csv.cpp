// Numeric CSV: a header line of column names, then rows of finite numbers, with RFC 4180 quoting.
// Every problem is an InputError naming the file, the line (1 = the header) and the column
// (1-based, with its name).
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

/// One line's (or, with a quoted line break, several lines') fields, RFC 4180: a field in double
/// quotes may hold commas, line breaks and "" for a quote; spaces around a field are dropped.
struct Record {
    std::size_t line = 0;  ///< where the record starts (1 = the header)
    std::vector<std::string> fields;
    bool blank = false;
};

/// The records of `text`, without the blank lines at the end. A quote that opens inside an
/// unquoted field, text after a closing quote, or a quote never closed throws, naming the line:
/// a field is never split at a comma that was meant to be inside it.
std::vector<Record> split_records(std::string_view text, const std::string& name) {
    std::vector<Record> records;
    std::size_t line = 1, i = 0;
    while (i < text.size()) {
        Record record;
        record.line = line;
        bool any_text = false;
        for (bool more = true; more;) {  // one field per pass
            std::string field;
            while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
            if (i < text.size() && text[i] == '"') {
                const std::size_t opened = line;
                for (++i;; ++i) {
                    if (i >= text.size())
                        throw InputError(name + ": line " + std::to_string(opened) +
                                         ": a quoted field is never closed (missing '\"')");
                    if (text[i] == '"') {
                        if (i + 1 < text.size() && text[i + 1] == '"') { field += '"'; ++i; continue; }
                        ++i;
                        break;
                    }
                    if (text[i] == '\n') ++line;
                    field += text[i];
                }
                while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
                if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
                    throw InputError(name + ": line " + std::to_string(line) +
                                     ": text after a closing quote; quote the whole field, with \"\" for a quote inside");
                field = std::string(trim(field));
                any_text = true;
            } else {
                const std::size_t start = i;
                while (i < text.size() && text[i] != ',' && text[i] != '\n' && !(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n'))
                    ++i;
                field = std::string(trim(text.substr(start, i - start)));
                if (field.find('"') != std::string::npos)
                    throw InputError(name + ": line " + std::to_string(line) + ": a quote inside an unquoted field '" +
                                     detail::printable(field) + "'; quote the whole field, with \"\" for a quote inside");
                any_text = any_text || !field.empty();
            }
            record.fields.push_back(std::move(field));
            if (i < text.size() && text[i] == ',') {
                ++i;
                any_text = true;
            } else {
                more = false;
                if (i < text.size() && text[i] == '\r') ++i;
                if (i < text.size() && text[i] == '\n') { ++i; ++line; }
            }
        }
        record.blank = !any_text;
        records.push_back(std::move(record));
    }
    while (!records.empty() && records.back().blank) records.pop_back();
    return records;
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

}  // namespace

CsvTable parse_csv(std::string_view text, const std::string& name) {
    constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";
    if (text.substr(0, utf8_bom.size()) == utf8_bom) text.remove_prefix(utf8_bom.size());
    const std::vector<Record> lines = split_records(text, name);
    if (lines.empty())
        throw InputError(name + ": is empty; expected a header line of column names, then rows "
                                "of numbers");

    CsvTable table;
    std::set<std::string_view> seen;
    std::size_t numeric_names = 0;
    const std::vector<std::string>& names = lines[0].fields;
    // pandas' DataFrame.to_csv() writes the row index as a first column with an empty name (and
    // read_csv() then calls it "Unnamed: 0"): a column of row numbers, not a feature.
    if (names.size() > 1 && (names[0].empty() || names[0] == "Unnamed: 0"))
        throw InputError(name + ": line 1, column 1: " + (names[0].empty() ? "empty column name" : "column 'Unnamed: 0'") +
                         ": this looks like the row index pandas writes; pass index=False to DataFrame.to_csv() "
                         "(or drop the column)");
    for (const std::string& field : names) {
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
        const std::string where = name + ": line " + std::to_string(lines[r + 1].line);
        if (lines[r + 1].blank && lines[r + 1].fields.size() == 1) throw InputError(where + ": empty line");
        const std::vector<std::string>& fields = lines[r + 1].fields;
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
    return parse_csv(detail::read_file_bytes(path, kMaxCsvFileBytes, "a CSV file"), path);
}

}  // namespace matgrad::io
