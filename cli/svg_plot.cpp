#include "svg_plot.hpp"

#include <report/render.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace matgrad::cli {
namespace {

constexpr double width = 640, height = 400;
constexpr double left = 70, right = 20, top = 40, bottom = 50;  // margins around the plot area

std::string number(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.6g", v);
    return buffer;
}

/// A "nice" tick spacing (1, 2 or 5 times a power of ten) giving about `count` ticks over `span`.
double tick_step(double span, int count) {
    const double raw = span / count;
    const double power = std::pow(10.0, std::floor(std::log10(raw)));
    for (const double m : {1.0, 2.0, 5.0})
        if (m * power >= raw) return m * power;
    return 10.0 * power;
}

}  // namespace

std::string line_chart_svg(const std::string& title, const std::string& x_label,
                           const std::string& y_label, const std::vector<PlotSeries>& series,
                           const PlotMark& mark) {
    std::size_t n = 1;
    double y_min = 0.0, y_max = 0.0;
    bool any = false;
    for (const PlotSeries& s : series) {
        n = std::max(n, s.values.size());
        for (const double v : s.values) {
            if (!std::isfinite(v)) continue;
            y_min = any ? std::min(y_min, v) : v;
            y_max = any ? std::max(y_max, v) : v;
            any = true;
        }
    }
    y_min = std::min(y_min, 0.0);  // losses: show the distance to zero
    if (y_max <= y_min) y_max = y_min + 1.0;
    const double plot_w = width - left - right, plot_h = height - top - bottom;
    auto x_of = [&](double x) { return left + (n == 1 ? 0.0 : (x - 1) / (n - 1) * plot_w); };
    auto y_of = [&](double y) { return top + plot_h - (y - y_min) / (y_max - y_min) * plot_h; };

    std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + number(width) +
                      "\" height=\"" + number(height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    svg += "<text x=\"" + number(width / 2) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" +
           report::xml_escape(title) + "</text>\n";
    // Axes
    svg += "<path d=\"M" + number(left) + "," + number(top) + " V" + number(top + plot_h) + " H" +
           number(left + plot_w) + "\" stroke=\"black\" fill=\"none\"/>\n";
    const double y_step = tick_step(y_max - y_min, 5);
    for (double y = std::ceil(y_min / y_step) * y_step; y <= y_max + 1e-12; y += y_step) {
        const std::string py = number(y_of(y));
        svg += "<line x1=\"" + number(left - 5) + "\" y1=\"" + py + "\" x2=\"" + number(left + plot_w) +
               "\" y2=\"" + py + "\" stroke=\"#ddd\"/>\n";
        svg += "<text x=\"" + number(left - 8) + "\" y=\"" + py +
               "\" text-anchor=\"end\" dominant-baseline=\"middle\">" + number(y) + "</text>\n";
    }
    const double x_step = std::max(1.0, tick_step(static_cast<double>(n - 1) + 1, 6));
    for (double x = 1; x <= n; x = (x == 1 && x_step > 1) ? x_step : x + x_step) {
        const std::string px = number(x_of(x));
        svg += "<line x1=\"" + px + "\" y1=\"" + number(top + plot_h) + "\" x2=\"" + px + "\" y2=\"" +
               number(top + plot_h + 5) + "\" stroke=\"black\"/>\n";
        svg += "<text x=\"" + px + "\" y=\"" + number(top + plot_h + 18) +
               "\" text-anchor=\"middle\">" + number(x) + "</text>\n";
    }
    svg += "<text x=\"" + number(left + plot_w / 2) + "\" y=\"" + number(height - 10) +
           "\" text-anchor=\"middle\">" + report::xml_escape(x_label) + "</text>\n";
    svg += "<text transform=\"translate(18," + number(top + plot_h / 2) +
           ") rotate(-90)\" text-anchor=\"middle\">" + report::xml_escape(y_label) + "</text>\n";
    if (mark.x > 0) {
        const std::string px = number(x_of(static_cast<double>(mark.x)));
        // The label sits above the plot area, where no series or legend can cover it.
        svg += "<line x1=\"" + px + "\" y1=\"" + number(top - 14) + "\" x2=\"" + px + "\" y2=\"" + number(top + plot_h) +
               "\" stroke=\"#555\" stroke-dasharray=\"5,4\"/>\n";
        const bool right_half = x_of(static_cast<double>(mark.x)) > left + plot_w / 2;
        svg += "<text x=\"" + number(x_of(static_cast<double>(mark.x)) + (right_half ? -6 : 6)) + "\" y=\"" +
               number(top - 4) + "\" text-anchor=\"" + (right_half ? "end" : "start") + "\" fill=\"#555\">" +
               report::xml_escape(mark.text) + "</text>\n";
    }
    // Series and legend
    for (std::size_t i = 0; i < series.size(); ++i) {
        const PlotSeries& s = series[i];
        std::string points;
        for (std::size_t k = 0; k < s.values.size(); ++k)
            if (std::isfinite(s.values[k]))
                points += number(x_of(static_cast<double>(k + 1))) + "," + number(y_of(s.values[k])) + " ";
        svg += "<polyline fill=\"none\" stroke=\"" + report::xml_escape(s.color) + "\" stroke-width=\"2\" points=\"" +
               points + "\"/>\n";
        const double ly = top + 12 + 18 * static_cast<double>(i);
        const double lx = left + plot_w - 150;
        svg += "<line x1=\"" + number(lx) + "\" y1=\"" + number(ly) + "\" x2=\"" + number(lx + 24) +
               "\" y2=\"" + number(ly) + "\" stroke=\"" + report::xml_escape(s.color) + "\" stroke-width=\"2\"/>\n";
        svg += "<text x=\"" + number(lx + 30) + "\" y=\"" + number(ly) +
               "\" dominant-baseline=\"middle\">" + report::xml_escape(s.name) + "</text>\n";
    }
    svg += "</svg>\n";
    return svg;
}

}  // namespace matgrad::cli
