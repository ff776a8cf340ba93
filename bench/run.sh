#!/bin/sh
# The performance tables from one command (not part of ctest; timings are not pass/fail):
#   1. matgrad_bench: one training step S/M/L -- matgrad vs hand-written BLAS vs the GEMM floor vs
#      libtorch, 1 and 2 BLAS threads, CPU-time and wall-clock medians of interleaved rounds;
#   2. train_speed.py: `matgrad train` per epoch vs the same PyTorch loop on breast cancer and the
#      digits-like CSV (one BLAS thread), CPU-time medians of interleaved rounds (skipped without
#      Python's torch);
#   3. matgrad_bench_epoch (issue 23): an epoch of nn::fit vs a hand-written BLAS epoch vs mlpack
#      4.8 vs libtorch C++, split into steps, bookkeeping and evaluation, on the same two data sets.
# usage: bench/run.sh BUILD_DIR [--quick] [--epoch]    (BUILD_DIR configured with -DMATGRAD_BUILD_BENCH=ON)
#   --epoch: only table 3.
# mlpack's headers are unpacked from $MLPACK_TARBALL (default ../shared/peers/mlpack-4.8.1-headers.tar.gz
# beside the repository) into BUILD_DIR/_peers; Armadillo comes from libarmadillo-dev.
set -eu
build=${1:?usage: bench/run.sh BUILD_DIR [--quick] [--epoch]}
shift
here=$(cd "$(dirname "$0")" && pwd)
quick=
epoch_only=
for arg in "$@"; do
  case $arg in
    --quick) quick=--quick ;;
    --epoch) epoch_only=1 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
rounds=7
[ -n "$quick" ] && rounds=3

tarball=${MLPACK_TARBALL:-$here/../../shared/peers/mlpack-4.8.1-headers.tar.gz}
if [ -f "$tarball" ] && [ ! -f "$build/_peers/mlpack/inst/include/mlpack.hpp" ]; then
  mkdir -p "$build/_peers/mlpack" && tar -xzf "$tarball" -C "$build/_peers/mlpack"
fi
if [ -f "$build/_peers/mlpack/inst/include/mlpack.hpp" ]; then
  cmake "$build" -DMATGRAD_MLPACK_ROOT="$(cd "$build/_peers/mlpack" && pwd)" >/dev/null
fi

if [ -z "$epoch_only" ]; then
  cmake --build "$build" -j2 --target matgrad matgrad_bench matgrad_bench_epoch
  "$build/bench/matgrad_bench" --json "$build/bench.json" $quick
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$here/train_speed.py" --matgrad "$build/cli/matgrad" --rounds $rounds
  else
    echo "train_speed.py skipped: /usr/bin/python3 has no torch"
  fi
else
  cmake --build "$build" -j2 --target matgrad_bench_epoch
fi
/usr/bin/python3 "$here/make_digits_like_csv.py" --out "$build/digits_like.csv" >/dev/null
echo "load average before the epoch benchmark: $(cut -d' ' -f1-3 /proc/loadavg)"
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$build/bench/matgrad_bench_epoch" --rounds $rounds \
  --data "breast_cancer=$here/../data/breast_cancer.csv:benign" --data "digits-like=$build/digits_like.csv:odd"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
