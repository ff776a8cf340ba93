#include "dataset.hpp"

namespace matgrad::cli {

std::size_t find_column(const io::CsvTable& table, const std::string& name, const std::string& file) {
    for (std::size_t c = 0; c < table.header.size(); ++c)
        if (table.header[c] == name) return c;
    std::string names;
    for (std::size_t c = 0; c < table.header.size() && c < 12; ++c)
        names += (c ? ", " : "") + table.header[c];
    if (table.header.size() > 12) names += ", ...";
    throw io::InputError(file + ": has no column '" + name + "' (its columns: " + names + ")");
}

Matrix features_by_column(const io::CsvTable& table, const std::vector<std::size_t>& columns) {
    const std::size_t rows = table.values.shape(0);
    Matrix X({columns.size(), rows});
    for (std::size_t f = 0; f < columns.size(); ++f)
        for (std::size_t r = 0; r < rows; ++r) X(f, r) = table.values(r, columns[f]);
    return X;
}

}  // namespace matgrad::cli
