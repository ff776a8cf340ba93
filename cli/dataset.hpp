// From a CSV table (rows = samples) to the matrices the MLP takes (columns = samples, as in the
// slides), shared by `matgrad train` and `matgrad predict`.
#pragma once

#include <nn/io.hpp>

#include <string>
#include <vector>

namespace matgrad::cli {

/// The index of column `name`; io::InputError naming `file` and listing the columns if absent.
std::size_t find_column(const io::CsvTable& table, const std::string& name, const std::string& file);

/// The given columns of every row, transposed: columns.size() x rows.
Matrix features_by_column(const io::CsvTable& table, const std::vector<std::size_t>& columns);

/// Column `column` as a 1 x rows label row; io::InputError naming the file, line and column of the
/// first value that is not exactly 0 or 1.
Matrix binary_labels(const io::CsvTable& table, std::size_t column, const std::string& file);

/// (X - mean) / std for X of features x samples and mean, std of features x 1.
Matrix standardize(const Matrix& X, const Matrix& mean, const Matrix& std);

/// The columns `indices` of `m`, in that order.
Matrix take_columns(const Matrix& m, const std::vector<std::size_t>& indices);

}  // namespace matgrad::cli
