// The built-in op definitions, gathered by the registry (src/registry.cpp) from the file that
// defines each family.
#pragma once

#include <autodiff/op.hpp>

#include <vector>

namespace matgrad {

void append_elementwise_ops(std::vector<const OpDef*>& defs);  // src/elementwise_ops.cpp
void append_reduction_ops(std::vector<const OpDef*>& defs);    // src/reduction_ops.cpp
void append_linalg_ops(std::vector<const OpDef*>& defs);       // src/linalg_ops.cpp

}  // namespace matgrad
