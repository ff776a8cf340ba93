"""The slides' S training step (10-64-1, n=7, sigmoid, mean BCE, SGD) from Python through the
matgrad module, to compare with matgrad_bench's C++ figure for the same graph (case S, matgrad
column) and derive the cost of one call from Python.

    PYTHONPATH=build/python OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/python_step.py
    OPENBLAS_NUM_THREADS=1 ./build-bench/bench/matgrad_bench --cases S --threads 1 --quick

Three timings, median [min] of --repeats rounds of --steps steps, in microseconds per step, as
wall clock and as the thread's CPU time (what the shared machine gave this process; compare with
matgrad_bench's CPU table):
  graph: clear, 2 constants, 4 variables, 15 ops and backward -- the C++ step's work, 23 calls
  step:  graph + reading the 4 gradients and the numpy SGD update (a complete training step)
  numpy: the same step written by hand in numpy (the slides' formulas), for scale
Per-call overhead = (graph - C++ step) / 23. Not a test: timings are not pass/fail.
"""
import argparse
import statistics
import time

import numpy as np

import matgrad as mg

# clear + 6 leaves + 15 ops (@ + sigmoid, @ + sigmoid, log *, - - log *, +, mean, -) + backward
CALLS_PER_GRAPH = 23


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    rng = np.random.default_rng(42)
    d, h, n, lr = 10, 64, 7, 0.01
    x = rng.standard_normal((d, n))
    y = (rng.standard_normal((1, n)) > 0).astype(float)
    params = [rng.standard_normal((h, d)) / np.sqrt(d), 0.1 * rng.standard_normal((h, 1)),
              rng.standard_normal((1, h)) / np.sqrt(h), 0.1 * rng.standard_normal((1, 1))]
    tape = mg.Tape()

    def graph():
        tape.clear()
        X, Y = tape.constant(x, "X"), tape.constant(y, "Y")
        W1, b1 = tape.variable(params[0], "W1"), tape.variable(params[1], "b1")
        W2, b2 = tape.variable(params[2], "W2"), tape.variable(params[3], "b2")
        A1 = mg.sigmoid(W1 @ X + b1)
        A2 = mg.sigmoid(W2 @ A1 + b2)
        J = -mg.mean(Y * mg.log(A2) + (1.0 - Y) * mg.log(1.0 - A2))
        tape.backward(J)
        return W1, b1, W2, b2

    def step():
        for k, var in enumerate(graph()):
            params[k] -= lr * var.grad

    def numpy_step():
        w1, b1, w2, b2 = params
        a1 = 1 / (1 + np.exp(-(w1 @ x + b1)))
        a2 = 1 / (1 + np.exp(-(w2 @ a1 + b2)))
        dz2 = (a2 - y) / n
        dz1 = (w2.T @ dz2) * a1 * (1 - a1)
        for k, g in enumerate([dz1 @ x.T, dz1.sum(axis=1, keepdims=True), dz2 @ a1.T,
                               dz2.sum(axis=1, keepdims=True)]):
            params[k] -= lr * g

    def time_per_step(fn):
        wall, cpu = [], []
        for _ in range(args.repeats):
            start, start_cpu = time.perf_counter(), time.thread_time()
            for _ in range(args.steps):
                fn()
            cpu.append((time.thread_time() - start_cpu) / args.steps * 1e6)
            wall.append((time.perf_counter() - start) / args.steps * 1e6)
        return [(statistics.median(t), min(t)) for t in (wall, cpu)]

    for fn in (graph, step, numpy_step):  # warm-up
        for _ in range(200):
            fn()
    print(f"slides' S step (10-64-1, n=7) from Python, {args.repeats} rounds x {args.steps} steps")
    print(f"microseconds per step: median [min]    {'wall clock':>16s} {'thread CPU':>16s}")
    for label, fn in [(f"graph ({CALLS_PER_GRAPH} matgrad calls)", graph),
                      ("step (graph + grads + SGD)", step), ("numpy by hand", numpy_step)]:
        (wall, wall_min), (cpu, cpu_min) = time_per_step(fn)
        print(f"  {label:34s} {wall:7.1f} [{wall_min:5.1f}] {cpu:7.1f} [{cpu_min:5.1f}]")


if __name__ == "__main__":
    main()
