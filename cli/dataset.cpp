#include "dataset.hpp"

#include <cstdio>

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

Matrix binary_labels(const io::CsvTable& table, std::size_t column, const std::string& file) {
    const std::size_t rows = table.values.shape(0);
    Matrix Y({std::size_t{1}, rows});
    for (std::size_t r = 0; r < rows; ++r) {
        const double y = table.values(r, column);
        if (y != 0.0 && y != 1.0) {
            char value[32];
            std::snprintf(value, sizeof value, "%g", y);
            throw io::InputError(file + ": line " + std::to_string(r + 2) + ", column " +
                                 std::to_string(column + 1) + " (" + table.header[column] +
                                 "): the label is " + value + "; labels must be 0 or 1");
        }
        Y(0, r) = y;
    }
    return Y;
}

Matrix standardize(const Matrix& X, const Matrix& mean, const Matrix& std) { return (X - mean) / std; }

Matrix take_columns(const Matrix& m, const std::vector<std::size_t>& indices) {
    Matrix out({m.shape(0), indices.size()});
    for (std::size_t r = 0; r < m.shape(0); ++r)
        for (std::size_t k = 0; k < indices.size(); ++k) out(r, k) = m(r, indices[k]);
    return out;
}

}  // namespace matgrad::cli
