#include "dataset.hpp"

namespace matgrad::cli {

std::size_t find_column(const std::vector<std::string>& header, const std::string& name, const std::string& file) {
    for (std::size_t c = 0; c < header.size(); ++c)
        if (header[c] == name) return c;
    std::string names;
    for (std::size_t c = 0; c < header.size() && c < 12; ++c) names += (c ? ", " : "") + header[c];
    if (header.size() > 12) names += ", ...";
    throw io::InputError(file + ": has no column '" + name + "' (its columns: " + names + ")");
}

std::vector<io::ColumnTarget> feature_and_label_targets(std::size_t columns, const std::vector<std::size_t>& features,
                                                        std::size_t label, Matrix& X, Matrix& y) {
    std::vector<io::ColumnTarget> targets(columns);
    for (std::size_t f = 0; f < features.size(); ++f) targets[features[f]] = {&X, f};
    if (label < columns) targets[label] = {&y, 0};
    return targets;
}

}  // namespace matgrad::cli
