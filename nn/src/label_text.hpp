// How nn's messages spell label or target values: "%g", so 2 is "2" and 0.5 is "0.5".
#pragma once

#include <cstdio>
#include <string>

namespace matgrad::nn {

inline std::string label_text(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return text;
}

/// "1, 2, 3"
template <class Values>
std::string label_list_text(const Values& values) {
    std::string text;
    for (const double v : values) text += (text.empty() ? "" : ", ") + label_text(v);
    return text;
}

}  // namespace matgrad::nn
