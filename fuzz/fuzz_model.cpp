// libFuzzer target: the model parser on arbitrary bytes must give a Model or throw lang::Error --
// never crash, hang, leak, overflow the stack or throw anything else. A model that parses is also
// bound (seeded values) and recorded when its declared shapes are small, so the shape checks and
// the registry calls behind every operator are fuzzed too; then derived (matgrad derive), and its
// derivation must parse and be judged all right. Its dimension names get sizes picked by a hash of
// the input: small ones (recorded), and 0 or sizes whose matrices overflow or pass the size cap
// (which bind must refuse before allocating anything, as for a hostile --dim). The same bytes are
// also read as a derivation file of the slides' model and judged.
#include <lang/derivation.hpp>
#include <lang/model.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <string_view>

namespace {

constexpr const char* kSlides =
    "input X : 10 x 7\ninput Y : 1 x 7\nparam W1 : 64 x 10\nparam b1 : 64 x 1\nparam W2 : 1 x 64\nparam b2 : 1 x 1\n"
    "Z1 = W1*X + b1\nA1 = sigmoid(Z1)\nZ2 = W2*A1 + b2\nA2 = sigmoid(Z2)\n"
    "J = -mean(Y .* log(A2) + (1 - Y) .* log(1 - A2))\n";

void as_derivation(std::string_view text) {
    using namespace matgrad;
    static const lang::Model slides = lang::Model::parse(kSlides, "slides.mg");
    static const lang::Values values = [] {
        lang::Values v;
        lang::BindOptions options;
        options.seed = 1;
        slides.bind(v, options);
        return v;
    }();
    try {
        lang::Derivation::parse(text, "fuzz.mg", slides).verify(values);
    } catch (const lang::Error&) {
    }
}

// Each at least 2^28 when large: one such side already exceeds kMaxMatrixElements (2^27), so
// nothing that bind accepts is slow to draw.
constexpr std::size_t kSizes[] = {1, 2, 3, 3, 3, 3, 3, 3, 5, 16, 0, std::size_t{1} << 28, std::size_t{1} << 32,
                                  (std::size_t{1} << 32) + 1, ~std::size_t{0} >> 1, ~std::size_t{0}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace matgrad;
    const std::string_view text{reinterpret_cast<const char*>(data), size};
    as_derivation(text);
    try {
        lang::Model model = lang::Model::parse(text, "fuzz.mg");
        if (model.assignments().empty() || model.output().empty()) std::abort();  // parse promises an output
        lang::BindOptions options;
        options.seed = 1;
        std::size_t pick = std::hash<std::string_view>{}({reinterpret_cast<const char*>(data), size});
        for (const lang::Declaration& d : model.declarations()) {
            if (!d.shape) return 0;
            for (const lang::Dim& dim : *d.shape) {
                if (dim.name.empty() && dim.value > 16) return 0;  // keep every input fast
                if (!dim.name.empty() && !options.dims.count(dim.name)) {
                    options.dims[dim.name] = kSizes[pick % std::size(kSizes)];
                    pick /= std::size(kSizes);
                }
            }
        }
        lang::Values values;
        model.bind(values, options);
        Tape tape;
        const lang::Recording r = model.record(tape, values);
        if (r.output().rows() != 1 || r.output().cols() != 1) std::abort();  // record promises a 1x1 output
        tape.backward(r.output());
        if (!r.output().requires_grad()) return 0;
        std::string key;
        try {
            key = model.derive(values);
        } catch (const lang::Error&) {  // an op without a rule in the language: named, not derived
            return 0;
        }
        try {
            lang::Derivation::parse(key, "key.mg", model).verify(values);
        } catch (const lang::Error& e) {  // derive wrote a derivation that does not parse or evaluate
            std::fprintf(stderr, "derive wrote:\n%s\nwhich fails: %s\ndims:", key.c_str(), e.what());
            for (const auto& [name, size] : options.dims) std::fprintf(stderr, " %s=%zu", name.c_str(), size);
            std::fprintf(stderr, "\n");
            std::abort();
        }
    } catch (const lang::Error&) {
    }
    return 0;
}
