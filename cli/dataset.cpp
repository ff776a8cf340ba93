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

void read_features_and_label(io::CsvReader& reader, const std::vector<std::size_t>& features, std::size_t label,
                             Matrix& X, Matrix& y, const std::function<void(double)>& progress) {
    X = Matrix({features.size(), std::size_t{0}});
    y = Matrix({std::size_t{1}, std::size_t{0}});
    std::vector<io::ColumnTarget> targets(reader.header().size());
    for (std::size_t f = 0; f < features.size(); ++f) targets[features[f]] = {&X, f};
    if (label < targets.size()) targets[label] = {&y, 0};
    reader.read_all(targets, progress);
}

}  // namespace matgrad::cli
