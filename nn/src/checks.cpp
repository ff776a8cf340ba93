// Input validation with messages that name the array by the slides' names and say what is wrong.
#include <nn/layers.hpp>

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace matgrad::nn {

namespace {

std::string count(std::size_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); }

std::string rows_phrase(std::size_t rows) { return count(rows, "row", "rows"); }

std::string at(const std::string& name, std::size_t k, const Matrix& m) {
    return name + "(" + std::to_string(k / m.shape(1)) + "," + std::to_string(k % m.shape(1)) + ")";
}

}  // namespace

void check_mlp_shapes(const std::vector<Matrix>& W, const std::vector<Matrix>& b, const Matrix* X,
                      const Matrix* Y) {
    if (W.empty()) throw std::invalid_argument("an MLP needs at least one layer, but there is no W1");
    if (W.size() != b.size())
        throw std::invalid_argument(count(W.size(), "weight matrix", "weight matrices") + " but " +
                                    count(b.size(), "bias", "biases") + ": every layer needs one W and one b");
    for (std::size_t i = 0; i < W.size(); ++i) {
        const std::string l = std::to_string(i + 1);
        if (W[i].size() == 0) throw std::invalid_argument("W" + l + " is empty (" + shape_string(W[i]) + ")");
        if (b[i].shape(0) != W[i].shape(0) || b[i].shape(1) != 1)
            throw std::invalid_argument("b" + l + " is " + shape_string(b[i]) + " but W" + l + " has " +
                                        rows_phrase(W[i].shape(0)) + " (b" + l + " must be " +
                                        std::to_string(W[i].shape(0)) + "x1)");
        if (i > 0 && W[i].shape(1) != W[i - 1].shape(0))
            throw std::invalid_argument("W" + l + " is " + shape_string(W[i]) + " but A" + std::to_string(i) +
                                        " has " + rows_phrase(W[i - 1].shape(0)));
    }
    if (X) {
        if (X->size() == 0) throw std::invalid_argument("X is empty (" + shape_string(*X) + ")");
        if (W[0].shape(1) != X->shape(0))
            throw std::invalid_argument("W1 is " + shape_string(W[0]) + " but X has " + rows_phrase(X->shape(0)) +
                                        " (X is features x samples)");
    }
    if (X && Y) {
        const std::size_t out = W.back().shape(0), n = X->shape(1);
        if (Y->shape(0) != out || Y->shape(1) != n)
            throw std::invalid_argument("Y is " + shape_string(*Y) + " but A" + std::to_string(W.size()) + " is " +
                                        std::to_string(out) + "x" + std::to_string(n) +
                                        " (one label per output and sample)");
    }
}

void check_binary_labels(const Matrix& labels, const std::string& name) {
    for (std::size_t k = 0; k < labels.size(); ++k) {
        const double y = labels.data()[k];
        if (y != 0.0 && y != 1.0) {
            std::ostringstream msg;
            msg << at(name, k, labels) << " = " << y << " is not 0 or 1";
            throw std::invalid_argument(msg.str());
        }
    }
}

void check_finite(const Matrix& m, const std::string& name) {
    for (std::size_t k = 0; k < m.size(); ++k)
        if (!std::isfinite(m.data()[k]))
            throw std::invalid_argument(at(name, k, m) + " is " + (std::isnan(m.data()[k]) ? "nan" : "infinite"));
}

}  // namespace matgrad::nn
