// TEMPORARY (until the [ops] branch is merged): the by-name op registry's contract from
// <autodiff/registry.hpp>, for the ops the engine has today. At merge, delete op_shim.hpp and
// op_shim.cpp, include <autodiff/registry.hpp> where this header is included, and define
// op_exists(name) as find_op(name) != nullptr (lang/src/model.cpp is the only user).
#pragma once

#include <autodiff/tape.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace matgrad {

/// args = matrix operands, numbers = numeric parameters in order (sum(x): {}). Wrong arity or an
/// unknown name: ShapeError naming the op and its signature.
Var apply_op(std::string_view name, const std::vector<Var>& args, const std::vector<double>& numbers);
/// Sorted, for "unknown function" suggestions.
std::vector<std::string> op_names();
/// find_op(name) != nullptr in the real registry.
bool op_exists(std::string_view name);

}  // namespace matgrad
