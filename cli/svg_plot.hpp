// A small hand-written SVG line chart (no dependencies): axes with ticks, one polyline per series,
// a legend. Used for `matgrad train --plot`.
#pragma once

#include <string>
#include <vector>

namespace matgrad::cli {

struct PlotSeries {
    std::string name;
    std::string color;           ///< any SVG colour, e.g. "#1f77b4"
    std::vector<double> values;  ///< y at x = 1, 2, ...
};

/// The SVG document of a line chart of `series` against x = 1..n (n = the longest series).
std::string line_chart_svg(const std::string& title, const std::string& x_label,
                           const std::string& y_label, const std::vector<PlotSeries>& series);

}  // namespace matgrad::cli
