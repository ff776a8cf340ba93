#!/usr/bin/python3
"""Write a seeded synthetic numeric CSV for the large-file benchmarks (README, "Performance").

ROWS rows of 29 features (normal values printed with 6 significant digits, about 10 bytes a cell)
and a 0/1 label that is a noisy linear rule of them: the 300,000-row file is 80 MB, 72 MB as
doubles (the shape of issue 22's test file).

    /usr/bin/python3 bench/make_big_csv.py --rows 300000 --out big.csv [--seed 0]

Same arguments -> byte-identical file. Written in blocks, so 3,000,000 rows need little memory.
"""
import argparse

import numpy as np

FEATURES, BLOCK = 29, 100_000


def write(path, rows, seed=0):
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=FEATURES)
    with open(path, "w") as out:
        out.write(",".join([f"x{i}" for i in range(FEATURES)] + ["label"]) + "\n")
        for start in range(0, rows, BLOCK):
            x = rng.normal(size=(min(BLOCK, rows - start), FEATURES))
            label = (x @ weights + rng.normal(size=len(x)) > 0).astype(int)
            for row, y in zip(x, label):
                out.write(",".join(f"{v:.6g}" for v in row) + f",{y}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write(args.out, args.rows, args.seed)


if __name__ == "__main__":
    main()
