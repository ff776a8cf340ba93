// A small hand-written SVG line chart (no dependencies): axes with ticks, one polyline per series,
// a legend, and optionally one x marked by a dashed vertical line. Used for `matgrad train --plot`.
#pragma once

#include <string>
#include <vector>

namespace matgrad::cli {

struct PlotSeries {
    std::string name;
    std::string color;           ///< any SVG colour, e.g. "#1f77b4"
    std::vector<double> values;  ///< y at x = 1, 2, ...
};

/// A vertical marker at x (none for x = 0), labelled with `text`.
struct PlotMark {
    std::size_t x = 0;
    std::string text;
};

/// The SVG document of a line chart of `series` against x = 1..n (n = the longest series). Values
/// that are not finite (e.g. a series with no data) are left out.
std::string line_chart_svg(const std::string& title, const std::string& x_label,
                           const std::string& y_label, const std::vector<PlotSeries>& series,
                           const PlotMark& mark = {});

}  // namespace matgrad::cli
