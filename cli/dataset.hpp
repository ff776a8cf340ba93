// From a CSV file (rows = samples) to the matrices nn takes (columns = samples, as in the slides),
// shared by `matgrad train` and `matgrad predict`, and nn's complaints about targets turned into
// errors that name the file, line and column.
#pragma once

#include <nn/io.hpp>
#include <nn/model.hpp>

#include <string>
#include <vector>

namespace matgrad::cli {

/// The index of column `name` in `header`; io::InputError naming `file` and listing the columns
/// if absent.
std::size_t find_column(const std::vector<std::string>& header, const std::string& name, const std::string& file);

/// Where a CSV with `columns` columns puts its values: the columns `features` into the rows of X,
/// in that order, and column `label` (unless it is `columns`: no label) into y's only row.
std::vector<io::ColumnTarget> feature_and_label_targets(std::size_t columns, const std::vector<std::size_t>& features,
                                                        std::size_t label, Matrix& X, Matrix& y);

/// Runs `work` (an nn call on the targets of `column`, from data row `first_row` on) and turns its
/// complaints into io::InputError naming `file`: an nn::TargetError also by the line and column of
/// the bad value, e.g. "d.csv: line 3, column 3 (y): the label is 2; labels must be 0 or 1".
template <class Work>
auto naming_the_file(const std::vector<std::string>& header, std::size_t column, const std::string& file,
                     Work&& work, std::size_t first_row = 0) {
    try {
        return work();
    } catch (const nn::TargetError& e) {
        throw io::InputError(file + ": line " + std::to_string(first_row + e.sample + 2) + ", column " +
                             std::to_string(column + 1) + " (" + header[column] + "): " + e.what());
    } catch (const std::invalid_argument& e) {
        throw io::InputError(file + ": " + e.what());
    }
}

}  // namespace matgrad::cli
