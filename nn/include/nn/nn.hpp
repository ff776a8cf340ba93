// matgrad::nn: include this one header. Layers and the MLP (layers.hpp), initialization (init.hpp),
// losses (losses.hpp), optimizers (optim.hpp), Newton's method (newton.hpp),
// models and their directories (model.hpp), the training pipeline (train.hpp), the slides' hand-derived reference (reference.hpp),
// diagnosing hand-derived gradients (verify.hpp) and file I/O (io.hpp).
#pragma once

#include <nn/init.hpp>
#include <nn/io.hpp>
#include <nn/layers.hpp>
#include <nn/losses.hpp>
#include <nn/model.hpp>
#include <nn/newton.hpp>
#include <nn/optim.hpp>
#include <nn/reference.hpp>
#include <nn/train.hpp>
#include <nn/verify.hpp>
