#!/bin/sh
# Builds the libFuzzer targets (fuzz_npy, fuzz_csv, fuzz_model: the .mg parser, fuzz_api: matgrad serve's API) with clang++-14 in build-fuzz and runs each for
# SECONDS (default 60), starting from the seed corpus in fuzz/corpus/<target>. Exits non-zero on
# the first crash; the crashing input is saved as build-fuzz/crash-<target>-*.
# Needs: clang-14 and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes).
set -eu
seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-fuzz"
cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMATGRAD_BUILD_FUZZERS=ON -DMATGRAD_BUILD_TESTS=OFF -DMATGRAD_BUILD_CLI=OFF \
  -DMATGRAD_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j2 --target fuzz_npy fuzz_csv fuzz_model fuzz_api
for target in npy csv model api; do
  # New interesting inputs go to the first (scratch) directory; the committed seeds stay as they are.
  mkdir -p "$build/corpus-$target"
  echo "== fuzz_$target for ${seconds}s"
  status=0
  "$build/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 \
    -dict="$root/fuzz/$target.dict" -artifact_prefix="$build/crash-$target-" \
    "$build/corpus-$target" "$root/fuzz/corpus/$target" >"$build/fuzz-$target.log" 2>&1 || status=$?
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^Done|ERROR|SUMMARY" "$build/fuzz-$target.log" || true
  if [ "$status" -ne 0 ]; then
    echo "fuzz_$target FAILED (status $status); log: $build/fuzz-$target.log"
    exit 1
  fi
done
