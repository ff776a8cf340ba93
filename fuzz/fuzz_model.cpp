// libFuzzer target: the model parser on arbitrary bytes must give a Model or throw lang::Error --
// never crash, hang, leak, overflow the stack or throw anything else. A model that parses is also
// bound (seeded values) and recorded when its declared shapes are small, so the shape checks and
// the registry calls behind every operator are fuzzed too.
#include <lang/model.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace matgrad;
    try {
        lang::Model model = lang::Model::parse({reinterpret_cast<const char*>(data), size}, "fuzz.mg");
        if (model.assignments().empty() || model.output().empty()) std::abort();  // parse promises an output
        lang::BindOptions options;
        options.seed = 1;
        for (const lang::Declaration& d : model.declarations()) {
            if (!d.shape) return 0;
            for (const lang::Dim& dim : *d.shape) {
                if (dim.name.empty() && dim.value > 16) return 0;  // keep every input fast
                if (!dim.name.empty()) options.dims[dim.name] = 3;
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
