#!/usr/bin/python3
"""Wall time and peak RSS of `matgrad train --memory BUDGET` on large CSVs, against `train` in memory.

For each size (--rows, 30 columns written by make_big_csv.py into --dir and kept there, as
csv_read.py does) it runs, each in a process of its own under GNU time:
  1. `train --memory BUDGET` with no cache beside the CSV: converts it to FILE.npy, then trains from it
     a block of rows at a time;
  2. the same again: the cache is current, so only the training;
  3. `train` without --memory: the whole table in memory (skipped with --no-in-memory).
The three are interleaved --reps times (the cache removed before each first run); the table has the
medians of the wall time, the CPU time (user + sys) and the peak RSS (the process's VmHWM: anonymous
memory and the mapped file's pages it holds, so the budget is judged on everything resident), and
the training's own seconds as `train` prints them. MiB are 2^20 bytes, as --memory counts them.

    cmake --build build -j2 --target matgrad
    /usr/bin/python3 bench/train_memory.py --matgrad build/cli/matgrad --rows 3000000 --memory 256M
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_big_csv  # noqa: E402


def measured(command):
    """Wall s, CPU s, peak RSS in MiB, and the output (stdout, then stderr) of `command` (GNU time: this Python process's
    own RSS would count in a child's rusage)."""
    result = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M"] + command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stderr}")
    wall, user, system, kib = result.stderr.split()[-4:]
    return float(wall), float(user) + float(system), int(kib) / 1024, result.stdout + result.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matgrad", required=True, help="the matgrad executable")
    parser.add_argument("--rows", default="3000000")
    parser.add_argument("--memory", default="256M")
    parser.add_argument("--epochs", default="2")
    parser.add_argument("--dir", default="/tmp/matgrad-csv-bench")
    parser.add_argument("--no-in-memory", action="store_true")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"machine: {cpu}, {os.cpu_count()} cores; load average before: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'rows':>9} {'data MiB':>8} {'run':<30} {'wall s':>7} {'cpu s':>7} {'train s':>7} {'peak RSS MiB':>12}  result")
    for rows in (int(r) for r in args.rows.split(",")):
        path = os.path.join(args.dir, f"rows{rows}.csv")
        if not os.path.exists(path):
            make_big_csv.write(path + ".tmp", rows)
            os.replace(path + ".tmp", path)
        data = rows * (make_big_csv.FEATURES + 1) * 8 / 2**20
        train = [args.matgrad, "train", "--csv", path, "--epochs", args.epochs]
        runs = [(f"--memory {args.memory}, converting", train + ["--memory", args.memory]),
                (f"--memory {args.memory}, cached", train + ["--memory", args.memory])]
        if not args.no_in_memory:
            runs.append(("in memory", train))
        results = {name: [] for name, _ in runs}
        for _ in range(args.reps):  # interleaved, so every run sees the same load
            for stale in (path + ".npy", path + ".npy.json"):
                if os.path.exists(stale):
                    os.remove(stale)
            for name, command in runs:
                results[name].append(measured(command))
        for name, _ in runs:
            medians = [statistics.median(r[i] for r in results[name]) for i in range(3)]
            out = results[name][-1][3]
            result = re.search(r"train accuracy .*", out)
            block = re.search(r"shuffled in blocks of [0-9]+ rows", out)
            seconds = statistics.median(float(re.search(r"epochs in ([0-9.]+) s", r[3]).group(1)) for r in results[name])
            print(f"{rows:>9} {data:>8.1f} {name:<30} {medians[0]:>7.2f} {medians[1]:>7.2f} {seconds:>7.2f}"
                  f" {medians[2]:>12.1f}  {result.group(0) if result else '?'}"
                  + (f"; {block.group(0)}" if block else ""), flush=True)
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
