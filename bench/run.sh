#!/bin/sh
# Issue 15's two tables from one command (not part of ctest; timings are not pass/fail):
#   1. matgrad_bench: one training step S/M/L -- matgrad vs hand-written BLAS vs the GEMM floor vs
#      libtorch, 1 and 2 BLAS threads, CPU-time and wall-clock medians of interleaved rounds;
#   2. train_speed.py: `matgrad train` per epoch vs the same PyTorch loop on breast cancer and the
#      digits-like CSV (one BLAS thread), CPU-time medians of interleaved rounds.
# usage: bench/run.sh BUILD_DIR [--quick]     (BUILD_DIR configured with -DMATGRAD_BUILD_BENCH=ON)
set -eu
build=${1:?usage: bench/run.sh BUILD_DIR [--quick]}
here=$(dirname "$0")
quick=${2:-}
cmake --build "$build" -j2 --target matgrad matgrad_bench
rounds=7
[ "$quick" = --quick ] && rounds=3
"$build/bench/matgrad_bench" --json "$build/bench.json" $quick
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$here/train_speed.py" --matgrad "$build/cli/matgrad" --rounds $rounds
