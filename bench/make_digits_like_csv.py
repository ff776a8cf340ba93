#!/usr/bin/python3
"""Write a seeded synthetic CSV with exactly the shape of the digits odd/even set.

Training speed depends only on shapes, so the second benchmark case (1797 rows, 64 integer features
in 0..16, a 0/1 label; 1438 training rows at the default 20% test split) is timed on this file
instead of the real data set, which the repository does not ship.

The label is a noisy linear rule of the features, so a network can learn it and the accuracy
column of a benchmark means something; it is not meant to resemble handwriting.

    /usr/bin/python3 bench/make_digits_like_csv.py --out digits_like.csv [--seed 0]

Same seed -> byte-identical file (numpy's PCG64 stream is fixed for a given seed).
"""
import argparse
import os
import sys

import numpy as np

ROWS, FEATURES, MAX_VALUE, ONES = 1797, 64, 16, 906


def make(seed):
    rng = np.random.default_rng(seed)
    # Like 8x8 images: a few pixels are always 0 (real digits has 3 constant columns), the rest
    # are integer intensities 0..16 with many zeros.
    pixels = rng.integers(0, MAX_VALUE + 1, size=(ROWS, FEATURES))
    pixels[rng.random((ROWS, FEATURES)) < 0.45] = 0
    pixels[:, [0, 32, 39]] = 0
    weights = rng.normal(size=FEATURES)
    score = (pixels - pixels.mean(axis=0)) @ weights + rng.normal(scale=4.0, size=ROWS)
    # The real set's class sizes (906 odd, 891 even digits), so the stratified 20% split leaves
    # exactly 1438 training rows: the top 906 scores are labelled 1.
    labels = np.zeros(ROWS, dtype=int)
    labels[np.argsort(score)[ROWS - ONES:]] = 1
    return pixels, labels


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pixels, labels = make(args.seed)
    header = ",".join([f"pixel_{i}" for i in range(FEATURES)] + ["odd"])
    lines = [header] + [",".join(map(str, row)) + f",{y}" for row, y in zip(pixels, labels)]
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:  # written whole, then renamed: no half file on failure
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, args.out)
    print(f"{args.out}: {ROWS} rows, {FEATURES} features in 0..{MAX_VALUE}, label 'odd' "
          f"({labels.sum()} ones), seed {args.seed}", file=sys.stderr)


if __name__ == "__main__":
    main()
