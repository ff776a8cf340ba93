#!/usr/bin/python3
"""The PyTorch loop equivalent to `matgrad train` with its defaults, for seconds per epoch.

Same data, 80/20 stratified split, standardization with the training rows' statistics, a 30-32-1
MLP (ReLU hidden layer, samples as rows -- PyTorch's layout), BCE from logits, Adam lr 0.01,
mini-batches of 32 shuffled every epoch, and after every epoch the loss and accuracy on the
training and test rows, as `matgrad train` computes them. Single-threaded.

usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/train_torch.py data/breast_cancer.csv [epochs]
"""
import sys
import time

import numpy as np
import torch


def evaluate(model, loss_fn, X, y):
    """(loss, accuracy) on the rows of X."""
    with torch.no_grad():
        logits = model(X)
        return loss_fn(logits, y).item(), ((logits > 0).double() == y).double().mean().item()


def main():
    path = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    torch.set_num_threads(1)
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    X, y = data[:, :-1], data[:, -1:]
    test = np.zeros(len(y), dtype=bool)
    for label in (0.0, 1.0):  # stratified: 20 % of each class held out
        rows = rng.permutation(np.flatnonzero(y[:, 0] == label))
        test[rows[: round(0.2 * len(rows))]] = True
    mean, std = X[~test].mean(axis=0), X[~test].std(axis=0)
    X = (X - mean) / np.where(std > 0, std, 1.0)
    X_train, y_train = torch.tensor(X[~test]), torch.tensor(y[~test])
    X_test, y_test = torch.tensor(X[test]), torch.tensor(y[test])

    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(y_train))
        for first in range(0, len(order), 32):
            rows = order[first:first + 32]
            optimizer.zero_grad()
            loss_fn(model(X_train[rows]), y_train[rows]).backward()
            optimizer.step()
        evaluation = [evaluate(model, loss_fn, X_train, y_train), evaluate(model, loss_fn, X_test, y_test)]
    seconds = time.perf_counter() - start
    print(f"pytorch {torch.__version__}: {epochs} epochs in {seconds:.3f} s, "
          f"{1e3 * seconds / epochs:.3f} ms/epoch, final train loss {evaluation[0][0]:.4f}, "
          f"test accuracy {evaluation[1][1]:.4f}")


if __name__ == "__main__":
    main()
