// TEMPORARY (until the [ops] branch is merged): see op_shim.hpp. Delete this file at merge.
#include "op_shim.hpp"

#include <autodiff/ops.hpp>

#include <algorithm>

namespace matgrad {

namespace {

struct ShimOp {
    std::string_view name;
    std::size_t args;
    const char* signature;
    Var (*apply)(const std::vector<Var>& args);
};

const ShimOp kOps[] = {
    {"exp", 1, "exp(x)", [](const std::vector<Var>& a) { return exp(a[0]); }},
    {"log", 1, "log(x)", [](const std::vector<Var>& a) { return log(a[0]); }},
    {"matmul", 2, "matmul(a, b)", [](const std::vector<Var>& a) { return matmul(a[0], a[1]); }},
    {"mean", 1, "mean(x)", [](const std::vector<Var>& a) { return mean(a[0]); }},
    {"sigmoid", 1, "sigmoid(x)", [](const std::vector<Var>& a) { return sigmoid(a[0]); }},
    {"sum", 1, "sum(x)", [](const std::vector<Var>& a) { return sum(a[0]); }},
    {"transpose", 1, "transpose(x)", [](const std::vector<Var>& a) { return transpose(a[0]); }},
};

const ShimOp* find(std::string_view name) {
    for (const ShimOp& op : kOps)
        if (name == op.name) return &op;
    return nullptr;
}

}  // namespace

bool op_exists(std::string_view name) { return find(name) != nullptr; }

std::vector<std::string> op_names() {
    std::vector<std::string> names;
    for (const ShimOp& op : kOps) names.emplace_back(op.name);
    std::sort(names.begin(), names.end());
    return names;
}

Var apply_op(std::string_view name, const std::vector<Var>& args, const std::vector<double>& numbers) {
    const ShimOp* op = find(name);
    if (op == nullptr) throw ShapeError("unknown op '" + std::string(name) + "'");
    if (args.size() != op->args || !numbers.empty())
        throw ShapeError(std::string(name) + ": expects " + op->signature);
    return op->apply(args);
}

}  // namespace matgrad
