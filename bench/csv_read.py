#!/usr/bin/python3
"""Read time and peak RSS of matgrad's CSV reader against numpy.loadtxt, in one table.

For each size (30k, 300k and 3M rows of 30 columns, written by make_big_csv.py into --dir and kept
there for the next run) it runs, interleaved --reps times, `matgrad_bench_csv FILE` (one
io::read_csv, see bench_csv.cpp) and numpy.loadtxt(FILE, delimiter=",", skiprows=1), each in a
process of its own, and prints medians: the read's wall time, its CPU time (on a busy machine the
fairer figure; matgrad's is the whole process's, numpy's loadtxt's own), MB/s of the file per CPU
second, and the process's peak RSS (GNU time's %M; for numpy including the interpreter and numpy
itself: see the 'numpy idle' line). The load average is printed before and after.

    cmake -S . -B build-bench -DMATGRAD_BUILD_BENCH=ON -DMATGRAD_BUILD_TESTS=OFF
    cmake --build build-bench -j2 --target matgrad_bench_csv
    /usr/bin/python3 bench/csv_read.py --bench build-bench/bench/matgrad_bench_csv

Training on these files within a memory budget (`train --memory`): bench/train_memory.py, which
writes and reads the same files.
"""
import argparse
import os
import statistics
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_big_csv  # noqa: E402

NUMPY_RUN = """
import sys, time
import numpy as np
start, cpu = time.perf_counter(), time.process_time()
a = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1) if len(sys.argv) > 1 else None
print(time.perf_counter() - start, time.process_time() - cpu)
"""


def measured(command):
    """The command's stdout words and its peak RSS in MB (10^6 bytes, as the file and data sizes),
    from GNU time: a child forked by this Python process would start with (and report) this
    process's own RSS."""
    result = subprocess.run(["/usr/bin/time", "-f", "%M"] + command, check=True, capture_output=True, text=True)
    return result.stdout.split(), int(result.stderr.split()[-1]) * 1024 / 1e6


def run_matgrad(bench, path):
    out, rss = measured([bench, path])
    return float(out[2]), float(out[3]), rss


def run_numpy(path=None):
    out, rss = measured([sys.executable, "-c", NUMPY_RUN] + ([path] if path else []))
    return float(out[0]), float(out[1]), rss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", required=True, help="the matgrad_bench_csv executable")
    parser.add_argument("--rows", default="30000,300000,3000000")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--dir", default="/tmp/matgrad-csv-bench")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"machine: {cpu}, {os.cpu_count()} cores; numpy {np.__version__}; load average before: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    idle = statistics.median(run_numpy()[2] for _ in range(3))
    print(f"numpy idle (interpreter + numpy, no file): peak RSS {idle:.0f} MB")
    print(f"{'rows':>9} {'file MB':>8} {'data MB':>8} | {'matgrad s':>9} {'cpu s':>6} {'MB/s cpu':>8} {'RSS MB':>7}"
          f" | {'loadtxt s':>9} {'cpu s':>6} {'RSS MB':>7} | {'cpu ratio':>9}")
    for rows in (int(r) for r in args.rows.split(",")):
        path = os.path.join(args.dir, f"rows{rows}.csv")
        if not os.path.exists(path):
            make_big_csv.write(path + ".tmp", rows)
            os.replace(path + ".tmp", path)
        file_mb = os.path.getsize(path) / 1e6
        data_mb = rows * (make_big_csv.FEATURES + 1) * 8 / 1e6
        ours, theirs = [], []
        for _ in range(args.reps):  # interleaved, so both see the same load
            ours.append(run_matgrad(args.bench, path))
            theirs.append(run_numpy(path))
        m = [statistics.median(x[i] for x in ours) for i in range(3)]
        n = [statistics.median(x[i] for x in theirs) for i in range(3)]
        print(f"{rows:>9} {file_mb:>8.1f} {data_mb:>8.1f} | {m[0]:>9.3f} {m[1]:>6.3f} {file_mb / m[1]:>8.0f} {m[2]:>7.1f}"
              f" | {n[0]:>9.3f} {n[1]:>6.3f} {n[2]:>7.1f} | {n[1] / m[1]:>8.1f}x", flush=True)
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
