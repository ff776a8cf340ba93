#!/usr/bin/python3
"""`matgrad train` against the same PyTorch loop, per epoch: issue 15's speed comparison.

The network of the issue: one sigmoid hidden layer of 64, Adam lr 0.01, batches of 32, 100 epochs,
float64, no early stopping (--patience 0 --validation-fraction 0, so all non-test rows train), every
part evaluated after every epoch in both, one BLAS / torch thread. Jobs: breast cancer (455
training rows) and a digits-shaped CSV (1797 rows, 64 features 0..16, 1438 training rows) written
by make_digits_like_csv.py. Speed depends only on shapes, so the synthetic set times like the real.

CPU time per epoch (the machine may be shared: CPU time excludes other processes' time slices):
  matgrad: (CPU of a 100-epoch run - CPU of a 1-epoch run) / 99, i.e. without startup, CSV parsing
           and saving; PyTorch: process CPU time around its epoch loop. Both runs of each round are
  interleaved (matgrad 100, matgrad 1, PyTorch), medians over --rounds. Test accuracy of both is
  printed too (different initializations: equal to within a few test rows, not bit for bit).

usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/train_speed.py --matgrad build/cli/matgrad [--rounds 5]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

import torch

import train_torch
from matgrad_split import load, matgrad_job, split_samples

# Issue 15's network, plain Adam (no weight decay) in both frameworks.
ARGS = ["--hidden", "64", "--activation", "sigmoid", "--lr", "0.01", "--batch", "32", "--patience", "0",
        "--validation-fraction", "0", "--weight-decay", "0"]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--matgrad", required=True, help="path of the matgrad executable")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        sys.exit("set OPENBLAS_NUM_THREADS=1 (one BLAS thread, as PyTorch gets one thread)")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as scratch:
        digits = os.path.join(scratch, "digits_like.csv")
        subprocess.run([sys.executable, os.path.join(here, "make_digits_like_csv.py"), "--out", digits], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        jobs = [("breast_cancer", os.path.join(here, "..", "data", "breast_cancer.csv"), "benign"),
                ("digits-like", digits, "odd")]
        print(f"pytorch {torch.__version__}; sigmoid 64, Adam 0.01, batch 32, {args.epochs} epochs, float64, "
              f"1 thread; CPU ms per epoch, median of {args.rounds} interleaved rounds [min-max]")
        print(f"{'data':<15}{'train rows':>11}{'matgrad':>22}{'pytorch':>24}{'pytorch/matgrad':>17}"
              f"{'acc matgrad':>13}{'acc torch':>11}")
        for name, path, label in jobs:
            X, y = load(path, label)
            mg, pt, acc_mg, acc_pt = [], [], None, None
            for _ in range(args.rounds):
                full = matgrad_job(args.matgrad, path, label, 1, ARGS + ["--epochs", str(args.epochs)])
                one = matgrad_job(args.matgrad, path, label, 1, ARGS + ["--epochs", "1"])
                mg.append(1e3 * (full["cpu_seconds"] - one["cpu_seconds"]) / (args.epochs - 1))
                t = train_torch.torch_job(X, y, "binary", 1, epochs=args.epochs, patience=0, hidden=64,
                                          activation="sigmoid", validation_fraction=0, weight_decay=0.0)
                pt.append(t["cpu_ms_per_epoch"])
                acc_mg, acc_pt = full["metric"], t["metric"]
            rows = len(split_samples([(y == c).nonzero()[0] for c in (0, 1)], validation_fraction=0)[0])
            m, p = statistics.median(mg), statistics.median(pt)
            print(f"{name:<15}{rows:>11}{m:>8.3f} [{min(mg):.3f}-{max(mg):.3f}]{p:>9.3f} [{min(pt):.3f}-{max(pt):.3f}]"
                  f"{p / m:>16.2f}x{acc_mg:>13.4f}{acc_pt:>11.4f}")


if __name__ == "__main__":
    main()
