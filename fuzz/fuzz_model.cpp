// libFuzzer target: the model parser on arbitrary bytes must give a Model or throw lang::Error --
// never crash, hang, leak, overflow the stack or throw anything else. A model that parses is also
// bound (seeded values) and recorded when its declared shapes are small, so the shape checks and
// the registry calls behind every operator are fuzzed too. Its dimension names get sizes picked
// by a hash of the input: small ones (recorded), and 0 or sizes whose matrices overflow or pass
// the size cap (which bind must refuse before allocating anything, as for a hostile --dim).
#include <lang/model.hpp>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <string_view>

namespace {

// Each at least 2^28 when large: one such side already exceeds kMaxMatrixElements (2^27), so
// nothing that bind accepts is slow to draw.
constexpr std::size_t kSizes[] = {1, 2, 3, 3, 3, 3, 3, 3, 5, 16, 0, std::size_t{1} << 28, std::size_t{1} << 32,
                                  (std::size_t{1} << 32) + 1, ~std::size_t{0} >> 1, ~std::size_t{0}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace matgrad;
    try {
        lang::Model model = lang::Model::parse({reinterpret_cast<const char*>(data), size}, "fuzz.mg");
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
    } catch (const lang::Error&) {
    }
    return 0;
}
