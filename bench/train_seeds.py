#!/usr/bin/python3
"""`matgrad train` with its defaults over many seeds (= many splits): the spread a single split hides.

For each data set: the test metric of every seed, then its mean, minimum and how many seeds reach the
bar of issue 12 (accuracy >= 0.96 for breast cancer, >= 0.94 for wine; for regression, R² at least that
of least-squares linear regression fitted on the same training rows, printed below as "lstsq").
numpy only; extra arguments after -- go to `matgrad train` (e.g. -- --weight-decay 0).

usage: /usr/bin/python3 bench/train_seeds.py --matgrad build/cli/matgrad [--seeds 1-20] [-- OPTIONS...]
"""
import argparse
import os
import statistics

from matgrad_split import detect_task, groups_for, least_squares_r2, load, matgrad_job, split_samples

BARS = {"breast_cancer.csv": 0.96, "wine.csv": 0.94}  # regression: least squares on the same split


def seed_list(text):
    first, _, last = text.partition("-")
    return list(range(int(first), int(last) + 1)) if last else [int(s) for s in text.split(",")]


def main():
    data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
    parser = argparse.ArgumentParser()
    parser.add_argument("--matgrad", required=True, help="path of the matgrad executable")
    parser.add_argument("--seeds", default="1-20", help="a range 1-20 or a list 1,2,3")
    parser.add_argument("train_options", nargs=argparse.REMAINDER, help="-- then options for matgrad train")
    args = parser.parse_args()
    extra = args.train_options[1:] if args.train_options[:1] == ["--"] else args.train_options
    seeds = seed_list(args.seeds)
    print(f"matgrad train {' '.join(extra) or '(defaults)'}; seeds {args.seeds}")
    for name, label in (("breast_cancer.csv", "benign"), ("wine.csv", "cultivar"), ("diabetes.csv", "progression")):
        path = os.path.join(data, name)
        X, y = load(path, label)
        task = detect_task(y)
        metrics = [matgrad_job(args.matgrad, path, label, seed, extra)["metric"] for seed in seeds]
        print(f"{name:<18} {' '.join(f'{m:.3f}' for m in metrics)}")
        if task == "regression":
            baseline = [least_squares_r2(X, y, *split_samples(groups_for(y, task), seed=seed)[::2]) for seed in seeds]
            differences = [m - b for m, b in zip(metrics, baseline)]
            print(f"{'  lstsq':<18} {' '.join(f'{b:.3f}' for b in baseline)}")
            print(f"{'':<18} mean R2 {statistics.mean(metrics):.4f}, at or above least squares on "
                  f"{sum(d >= 0 for d in differences)} of {len(seeds)} seeds, mean difference "
                  f"{statistics.mean(differences):+.4f}, worst {min(differences):+.4f}")
        else:
            bar = BARS.get(name, 0.0)
            print(f"{'':<18} mean accuracy {statistics.mean(metrics):.4f}, worst {min(metrics):.4f}, "
                  f">= {bar} on {sum(m >= bar for m in metrics)} of {len(seeds)} seeds")


if __name__ == "__main__":
    main()
