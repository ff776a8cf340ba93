#!/usr/bin/python3
"""The PyTorch loop equivalent to `matgrad train` with its defaults, for accuracy/R² and ms per epoch.

For each data set and seed: the same rows in the same test/validation/training split as matgrad
(its split re-implemented here, mt19937_64 included, so the rows are identical), standardization
of the features (and of a regression target) with the training rows' statistics, a features-32-k
MLP (ReLU hidden layer, samples as rows -- PyTorch's layout), BCE from logits / softmax
cross-entropy / MSE, Adam lr 0.01 (AdamW with weight decay 1 for regression), mini-batches of 32 shuffled every epoch, after every epoch the
losses on the training, validation and test rows, early stopping with patience 10 restoring the
best epoch's parameters. Regression also reports least-squares linear regression on the same split
(the bar matgrad's default must clear). Single-threaded. Initialization and batch order come from
torch's own generator, so the numbers agree with matgrad's statistically, not digit by digit.

usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/train_torch.py [--seeds 1,2,3,4,5]
           [--matgrad build/cli/matgrad] [DATA.csv:LABEL ...]
With --matgrad, the same jobs also run through `matgrad train` and both are printed side by side.
"""
import argparse
import copy
import json
import math
import os
import subprocess
import tempfile
import time

import numpy as np
import torch

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


def torch_job(X, y, task, seed, epochs=200, patience=10, batch=32, lr=0.01, hidden=32):
    classes = sorted(set(y.tolist())) if task != "regression" else None
    groups = [np.flatnonzero(y == c) for c in classes] if classes else [np.arange(len(y))]
    train, validation, test = split_samples(groups, seed=seed)
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    Xs = (X - mean) / np.where(std > 1e-12 * np.maximum(1, np.abs(mean)), std, 1.0)
    result = {}
    if task == "regression":
        t_mean, t_std = y[train].mean(), y[train].std()
        Y = torch.tensor(((y - t_mean) / t_std)[:, None])
        loss_fn, outputs = torch.nn.MSELoss(), 1
        # The least-squares baseline on the same training rows (validation rows unused, like matgrad's fit).
        A = np.hstack([X, np.ones((len(y), 1))])
        w = np.linalg.lstsq(A[train], y[train], rcond=None)[0]
        residual = A[test] @ w - y[test]
        result["lstsq_r2"] = 1 - (residual ** 2).sum() / ((y[test] - y[test].mean()) ** 2).sum()
    elif task == "binary":
        Y, loss_fn, outputs = torch.tensor(y[:, None]), torch.nn.BCEWithLogitsLoss(), 1
    else:
        Y = torch.tensor(np.searchsorted(classes, y))
        loss_fn, outputs = torch.nn.CrossEntropyLoss(), len(classes)
    Xt = torch.tensor(Xs)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], hidden), torch.nn.ReLU(),
                                torch.nn.Linear(hidden, outputs)).double()
    # matgrad's default weight decay: 0 for classification, 1 (decoupled, AdamW) for regression.
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1.0 if task == "regression" else 0.0)
    tr, va = torch.tensor(train), torch.tensor(validation)
    best, best_state, waited, epochs_run = math.inf, None, 0, 0
    start = time.perf_counter()
    for _ in range(epochs):
        order = tr[torch.randperm(len(tr))]
        for first in range(0, len(order), batch):
            rows = order[first:first + batch]
            optimizer.zero_grad()
            loss_fn(model(Xt[rows]), Y[rows]).backward()
            optimizer.step()
        epochs_run += 1
        with torch.no_grad():  # every part evaluated after every epoch, as matgrad does
            losses = [loss_fn(model(Xt[rows]), Y[rows]).item() for rows in (tr, va, torch.tensor(test))]
        if losses[1] < best:
            best, best_state, waited = losses[1], copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= patience:
                break
    seconds = time.perf_counter() - start
    model.load_state_dict(best_state)
    with torch.no_grad():
        out = model(Xt[test])
    if task == "regression":
        pred = out[:, 0].numpy() * t_std + t_mean
        result["metric"] = 1 - ((pred - y[test]) ** 2).sum() / ((y[test] - y[test].mean()) ** 2).sum()
    elif task == "binary":
        result["metric"] = ((out[:, 0] > 0).double().numpy() == y[test]).mean()
    else:
        result["metric"] = (out.argmax(dim=1).numpy() == Y[test].numpy()).mean()
    result["ms_per_epoch"] = 1e3 * seconds / epochs_run
    return result


def matgrad_job(exe, path, label, seed):
    with tempfile.TemporaryDirectory() as scratch:
        metrics = os.path.join(scratch, "m.json")
        subprocess.run([exe, "train", "--csv", path, "--label", label, "--seed", str(seed), "--metrics", metrics],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(metrics) as f:
            m = json.load(f)
    metric = m["test_r2"] if m["task"] == "regression" else m["test_accuracy"]
    return {"metric": metric, "ms_per_epoch": 1e3 * m["seconds"] / m["epochs"], "best_epoch": m["best_epoch"]}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, "..", "data")
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--matgrad", help="path of the matgrad executable, to run the same jobs")
    parser.add_argument("jobs", nargs="*", default=[os.path.join(data, "breast_cancer.csv:benign"),
                                                    os.path.join(data, "wine.csv:cultivar"),
                                                    os.path.join(data, "diabetes.csv:progression")])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"pytorch {torch.__version__}; metric = test accuracy (classification) or test R2 (regression)")
    print(f"{'data':<18}{'seed':>5}{'task':>12}{'matgrad':>9}{'torch':>8}{'lstsq':>8}"
          f"{'matgrad ms/ep':>15}{'torch ms/ep':>13}")
    for job in args.jobs:
        path, label = job.rsplit(":", 1)
        X, y = load(path, label)
        task = detect_task(y)
        for seed in (int(s) for s in args.seeds.split(",")):
            t = torch_job(X, y, task, seed)
            m = matgrad_job(args.matgrad, path, label, seed) if args.matgrad else {"metric": math.nan,
                                                                                    "ms_per_epoch": math.nan}
            print(f"{os.path.basename(path):<18}{seed:>5}{task:>12}{m['metric']:>9.4f}{t['metric']:>8.4f}"
                  f"{t.get('lstsq_r2', math.nan):>8.4f}{m['ms_per_epoch']:>15.3f}{t['ms_per_epoch']:>13.3f}")


if __name__ == "__main__":
    main()
