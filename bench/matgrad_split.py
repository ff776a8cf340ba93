"""What the training benchmarks share: matgrad's train/validation/test split re-implemented bit for bit
(mt19937_64 included, so every script sees the rows matgrad sees), CSV loading, the task detection,
least squares on a split, and one `matgrad train` run. numpy only (no PyTorch).
"""
import json
import math
import os
import resource
import subprocess
import tempfile

import numpy as np

MASK64 = (1 << 64) - 1


class MT19937_64:
    """std::mt19937_64, bit for bit (what nn::Rng draws from)."""

    def __init__(self, seed):
        self.state = [seed & MASK64]
        for i in range(1, 312):
            prev = self.state[-1]
            self.state.append((6364136223846793005 * (prev ^ (prev >> 62)) + i) & MASK64)
        self.index = 312

    def next(self):
        if self.index == 312:
            s = self.state
            for i in range(312):
                x = (s[i] & 0xFFFFFFFF80000000) | (s[(i + 1) % 312] & 0x7FFFFFFF)
                s[i] = s[(i + 156) % 312] ^ (x >> 1) ^ (0xB5026F5AA96619E9 if x & 1 else 0)
            self.index = 0
        y = self.state[self.index]
        self.index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y

    def uniform(self):  # nn::Rng::uniform: the top 53 bits
        return (self.next() >> 11) * 2.0 ** -53


def llround(x):
    return int(math.floor(x + 0.5))  # std::llround for x >= 0 (Python's round() rounds half to even)


def split_samples(groups, test_fraction=0.2, validation_fraction=0.1, seed=1):
    """nn::split_samples: per group, Fisher-Yates, then test, validation, training rows."""
    rng = MT19937_64(seed)
    train, validation, test = [], [], []
    for rows in groups:
        rows = list(rows)
        for i in range(len(rows) - 1, 0, -1):
            j = int(rng.uniform() * (i + 1))
            rows[i], rows[j] = rows[j], rows[i]

        def share(fraction, count, at_least):
            return min(max(llround(fraction * count), min(at_least, count - 1)), count - 1)

        n_test = share(test_fraction, len(rows), 1)
        n_val = share(validation_fraction, len(rows) - n_test, 1 if validation_fraction > 0 else 0)
        test += rows[:n_test]
        validation += rows[n_test:n_test + n_val]
        train += rows[n_test + n_val:]
    return np.array(train), np.array(validation), np.array(test)


def detect_task(y):
    values = set(y.tolist())
    if values <= {0.0, 1.0}:
        return "binary"
    if all(v == math.floor(v) for v in values) and 3 <= len(values) <= 20:
        return "multiclass"
    return "regression"


def load(path, label):
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    column = header.index(label)
    return np.delete(data, column, axis=1), data[:, column]


def groups_for(y, task):
    """The groups split_samples splits one by one: each class (stratified), or all rows (regression)."""
    if task == "regression":
        return [np.arange(len(y))]
    return [np.flatnonzero(y == c) for c in sorted(set(y.tolist()))]


def least_squares_r2(X, y, train, test):
    """Test R² of least-squares linear regression (with intercept) fitted on the training rows."""
    A = np.hstack([X, np.ones((len(y), 1))])
    w = np.linalg.lstsq(A[train], y[train], rcond=None)[0]
    residual = A[test] @ w - y[test]
    return 1 - (residual ** 2).sum() / ((y[test] - y[test].mean()) ** 2).sum()


def matgrad_job(exe, path, label, seed, extra=()):
    """`matgrad train` on the job; cpu_seconds is the whole process's CPU time (startup included)."""
    with tempfile.TemporaryDirectory() as scratch:
        metrics = os.path.join(scratch, "m.json")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([exe, "train", "--csv", path, "--label", label, "--seed", str(seed), "--metrics", metrics,
                        *extra], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(metrics) as f:
            m = json.load(f)
    metric = m["test_r2"] if m["task"] == "regression" else m["test_accuracy"]
    return {"metric": metric, "ms_per_epoch": 1e3 * m["seconds"] / m["epochs"], "best_epoch": m["best_epoch"],
            "epochs": m["epochs"],
            "cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}
