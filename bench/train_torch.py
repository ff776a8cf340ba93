#!/usr/bin/python3
"""The PyTorch loop equivalent to `matgrad train` with its defaults, for accuracy/R² and ms per epoch.

For each data set and seed: the same rows in the same test/validation/training split as matgrad
(its split re-implemented here, mt19937_64 included, so the rows are identical), standardization
of the features (and of a regression target) with the training rows' statistics, a features-32-k
MLP (ReLU hidden layer, samples as rows -- PyTorch's layout), BCE from logits / softmax
cross-entropy / MSE, AdamW lr 0.01 with weight decay 1, mini-batches of 32 shuffled every epoch, after every epoch the
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
import math
import os
import time

import numpy as np
import torch

from matgrad_split import detect_task, groups_for, least_squares_r2, load, matgrad_job, split_samples

def torch_job(X, y, task, seed, epochs=200, patience=10, batch=32, lr=0.01, hidden=32, activation="relu",
              validation_fraction=0.1, weight_decay=1.0):
    """One `matgrad train` job in PyTorch; patience 0 trains every epoch and keeps the last parameters."""
    classes = sorted(set(y.tolist())) if task != "regression" else None
    train, validation, test = split_samples(groups_for(y, task), validation_fraction=validation_fraction, seed=seed)
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    Xs = (X - mean) / np.where(std > 1e-12 * np.maximum(1, np.abs(mean)), std, 1.0)
    result = {}
    if task == "regression":
        t_mean, t_std = y[train].mean(), y[train].std()
        Y = torch.tensor(((y - t_mean) / t_std)[:, None])
        loss_fn, outputs = torch.nn.MSELoss(), 1
        # The least-squares baseline on the same training rows (validation rows unused, like matgrad's fit).
        result["lstsq_r2"] = least_squares_r2(X, y, train, test)
    elif task == "binary":
        Y, loss_fn, outputs = torch.tensor(y[:, None]), torch.nn.BCEWithLogitsLoss(), 1
    else:
        Y = torch.tensor(np.searchsorted(classes, y))
        loss_fn, outputs = torch.nn.CrossEntropyLoss(), len(classes)
    Xt = torch.tensor(Xs)
    torch.manual_seed(seed)
    act = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh}[activation]
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], hidden), act(),
                                torch.nn.Linear(hidden, outputs)).double()
    # matgrad's default weight decay is 1 for every task (decoupled, AdamW).
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    tr, va, te = torch.tensor(train), torch.tensor(validation), torch.tensor(test)
    best, best_state, waited, epochs_run = math.inf, None, 0, 0
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        order = tr[torch.randperm(len(tr))]
        for first in range(0, len(order), batch):
            rows = order[first:first + batch]
            optimizer.zero_grad()
            loss_fn(model(Xt[rows]), Y[rows]).backward()
            optimizer.step()
        epochs_run += 1
        with torch.no_grad():  # every part evaluated after every epoch, as matgrad does
            losses = [loss_fn(model(Xt[rows]), Y[rows]).item() if len(rows) else math.nan for rows in (tr, va, te)]
        if patience == 0:
            continue
        if losses[1] < best:
            best, best_state, waited = losses[1], copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= patience:
                break
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    if best_state is not None:
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
    result["cpu_ms_per_epoch"] = 1e3 * cpu_seconds / epochs_run
    return result


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
