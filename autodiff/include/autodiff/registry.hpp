// Ops by name, for front ends (a text language, a Python module): every built-in op definition and
// every registered user op, one list -- the same definitions the C++ functions record.
#pragma once

#include <autodiff/op.hpp>
#include <autodiff/tape.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace matgrad {

/// The definition of a built-in or registered op, else nullptr. The binary operators are ops too:
/// "add", "sub", "mul", "div", "neg", "matmul", "transpose".
const OpDef* find_op(std::string_view name);

/// Applies a function-style op by name: args are its matrix operands, numbers its numeric
/// parameters in order (pow(x, p): {p}; sum(x, axis): {axis}; sum(x): {}). Wrong arity or
/// parameters: ShapeError naming the op and its signature; an unknown name: ShapeError listing
/// the ops.
Var apply_op(std::string_view name, const std::vector<Var>& args, const std::vector<double>& numbers);

/// apply_op for a definition already looked up (find_op): a front end that resolves its calls
/// once, when it parses, skips the search by name in every recording. def.apply must be set.
Var apply_op(const OpDef& def, const std::vector<Var>& args, const std::vector<double>& numbers);

/// Every op callable by name, sorted.
std::vector<std::string> op_names();

/// Makes a user op callable by name (def.apply must be set; def must outlive every use). A name
/// already taken is a UsageError.
void register_op(const OpDef& def);

/// Every definition, built-in ones first (one entry per signature: sum(x) and sum(x, axis) are
/// two), then registered ones -- what the derivative table lists.
std::vector<const OpDef*> all_op_definitions();

/// Generated documentation (docs/derivatives.md; the README's op table between the markers
/// <!-- op-table:begin --> and <!-- op-table:end -->), from the definitions alone.
std::string derivative_table_markdown();
/// The README's op table (one row per signature), the text between the op-table markers.
std::string readme_op_table();

/// A template (a rule, a mistake's description) with generic names: {g} -> g, {i} -> the operand's
/// name in the signature, {out} -> out, parameters by name, {N} -> N.
std::string generic_rule_text(const OpDef& def, const char* rule);

}  // namespace matgrad
