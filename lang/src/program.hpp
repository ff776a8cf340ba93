// The parsed form of a model (internal to matgrad_lang): one expression tree per assignment in a
// flat node array, every name resolved to a slot, and enough source positions to point at the
// token behind any later error.
#pragma once

#include <autodiff/op.hpp>
#include <lang/derivation.hpp>
#include <lang/model.hpp>

#include <memory>

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace matgrad::lang {

enum class NodeKind : std::uint8_t { number, ref, dim, neg, transpose, binary, call };

/// The binary operators, as written.
enum class BinaryOp : std::uint8_t { add, sub, product, matmul, mul, div, scalar_div, power, scalar_power };

struct Node {
    NodeKind kind = NodeKind::number;
    BinaryOp op = BinaryOp::add;
    double number = 0.0;                // kind == number
    std::uint32_t slot = 0;             // kind == ref: declarations, then assignments; dim: index in dims
    std::vector<std::uint32_t> children;  // operands (binary: 2; call: its matrix arguments)
    std::vector<double> numbers;        // call: its numeric arguments, in order
    const OpDef* function = nullptr;    // call and power: the op, looked up once when parsed
    bool derivative = false;            // call: f'(x), the element-wise derivative (derivations only)
    std::uint32_t call_depth = 0;       // call: how many calls enclose it (index of its argument buffer)
    std::size_t line = 0, column = 0;   // the operator, function name or operand token (1-based)
    std::size_t begin = 0, end = 0;     // the node's text in its line: [begin, end) byte offsets
};

struct Model::Impl {
    std::string file, source;
    std::vector<std::string> lines;  // the source split at '\n' (without it)
    std::vector<Declaration> declarations;
    std::vector<Assignment> assignments;
    std::vector<Node> nodes;
    std::vector<std::uint32_t> roots;  // per assignment, its expression's node
    std::unordered_map<std::string, std::uint32_t> slots;  // every declared or assigned name
    std::vector<std::string> dims;  // every dimension name of the declared shapes, first use first
    // A derivation file (lang/derivation.hpp): no declarations of its own, f'(x) allowed, and the
    // first `presets` declarations are the model's names (its declarations, then its named nodes).
    bool derivation = false;
    std::size_t presets = 0;
    std::size_t preset_nodes = 0;  // of which the model's named nodes (the last ones)
    std::string preset_file;  // the model's file, for "already a name of the model" errors
    std::vector<std::uint32_t> declarations_by_name;  // declaration indices sorted by name (like a Values map)
    std::uint32_t output_slot = 0;
    std::uint32_t max_call_depth = 0;  // calls nested at most this deep (+1 = argument buffers needed)

    /// Adds a declared name (its slot, and its shape's dimension names to `dims`).
    void declare(Declaration d) {
        if (d.shape)
            for (const Dim& dim : *d.shape)
                if (!dim.name.empty() && std::find(dims.begin(), dims.end(), dim.name) == dims.end())
                    dims.push_back(dim.name);
        slots.emplace(d.name, static_cast<std::uint32_t>(declarations.size()));
        declarations.push_back(std::move(d));
    }
    /// An Error at a 1-based line and column of this model.
    Error error(std::size_t line, std::size_t column, const std::string& message) const;
    /// The node's text as written ("W1*X").
    std::string text(const Node& n) const { return lines[n.line - 1].substr(n.begin, n.end - n.begin); }
    const std::string& slot_name(std::uint32_t slot) const {
        return slot < declarations.size() ? declarations[slot].name : assignments[slot - declarations.size()].name;
    }
};

/// Parses `source` into `impl` (file and source already set; for a derivation, its flag and presets too).
void parse_program(Model::Impl& impl);

/// What one recording says about a parse node: its value's shape and whether it needs a gradient.
struct NodeInfo {
    std::size_t rows = 0, cols = 0;
    bool requires_grad = false;
};

/// Records the model like Model::record and fills `info` (one per parse node) and `slots_need_grad`
/// (one per slot: declarations, then assignments).
void record_info(const Model::Impl& impl, Tape& tape, std::vector<Var>& slots, std::vector<NodeInfo>& info);

/// The model's right derivation as a derivation file (matgrad derive --format mg), from one
/// recording's shapes, written briefly where `right` (the text judged against autodiff) still
/// holds: a `+ 0 * x` that only broadcasts a gradient back to x's shape is left out where a later
/// op broadcasts it anyway, and a short helper used once is written into its use.
std::string derive_text(const Model::Impl& impl, const std::vector<NodeInfo>& info, const std::vector<Var>& slots,
                        const std::function<bool(const std::string&)>& right);

struct Derivation::Impl {
    const Model* model = nullptr;
    Model::Impl program;  // the model's names as declarations, then the derivation's lines
    std::vector<DerivationLine> lines;
    std::vector<std::vector<std::size_t>> uses;  // per line: the earlier lines its formula names
};

/// Derivation::parse's work: `source` parsed against `model`.
std::unique_ptr<Derivation::Impl> parse_derivation(std::string_view source, std::string file, const Model& model);

/// The numpy module of `matgrad derive --format numpy`: the model's forward pass (`info` from one
/// recording, `slots` its values) and the derivation `key` (derive_text's), line by line.
std::string numpy_module(const Model& model, const Model::Impl& impl, const std::vector<NodeInfo>& info,
                         std::vector<Var> slots, Tape& tape, const std::string& key);

/// Evaluates the expression `root` of `impl` onto `tape`, the slots of its names filled (declarations
/// first: they give the dimensions' sizes). Throws Error at the operator or function whose shapes do
/// not fit.
Var evaluate(const Model::Impl& impl, Tape& tape, std::vector<Var>& slots, std::uint32_t root,
             std::vector<NodeInfo>* info = nullptr);

}  // namespace matgrad::lang
