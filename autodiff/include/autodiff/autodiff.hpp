// matgrad's engine: include this one header.
#pragma once

#include <autodiff/blas.hpp>
#include <autodiff/elementwise.hpp>
#include <autodiff/gradcheck.hpp>
#include <autodiff/limits.hpp>
#include <autodiff/ops.hpp>
#include <autodiff/second_order.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/verify.hpp>
