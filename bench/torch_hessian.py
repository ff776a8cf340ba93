"""PyTorch's side of bench_hessian.cpp: the same two-layer sigmoid network with the slides' mean
BCE, float64, one thread -- gradient (forward + backward), torch.autograd.functional.hvp, and the full
Hessian of S's 769 params (torch.autograd.functional.hessian, with and without vectorize=True).
Medians of interleaved rounds, like the C++ benchmark. Usage: python3 bench/torch_hessian.py [ROUNDS]"""
import os
import sys
import time

import torch

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)


def network(d, h, n):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(d, n, generator=g)
    y = (torch.arange(n) % 2).to(torch.float64).reshape(1, n)
    params = [torch.randn(h, d, generator=g) / d ** 0.5, 0.1 * torch.randn(h, 1, generator=g),
              torch.randn(1, h, generator=g) / h ** 0.5, 0.1 * torch.randn(1, 1, generator=g)]
    v = [torch.randn_like(p) for p in params]

    def loss(w1, b1, w2, b2):
        a1 = torch.sigmoid(w1 @ x + b1)
        a2 = torch.sigmoid(w2 @ a1 + b2)
        return -torch.mean(y * torch.log(a2) + (1 - y) * torch.log(1 - a2))

    return loss, params, v


def timed(f, reps):
    start = time.perf_counter()
    for _ in range(reps):
        f()
    return (time.perf_counter() - start) / reps


def bench(name, loss, params, v, reps, rounds, full_hessian):
    def gradient():
        ps = [p.detach().requires_grad_() for p in params]
        torch.autograd.grad(loss(*ps), ps)

    rows = [("gradient (forward + backward)", gradient, reps),
            ("hvp (autograd.functional.hvp)", lambda: torch.autograd.functional.hvp(loss, tuple(params), tuple(v)), reps)]
    if full_hessian:
        rows.append(("full Hessian (functional.hessian)", lambda: torch.autograd.functional.hessian(loss, tuple(params)), 1))
        rows.append(("full Hessian (vectorize=True)",
                     lambda: torch.autograd.functional.hessian(loss, tuple(params), vectorize=True), 1))
    times = {r[0]: [] for r in rows}
    for _ in range(rounds):
        for label, f, n in rows:
            times[label].append(timed(f, n))
    grad = sorted(times[rows[0][0]])[rounds // 2]
    for label, _, _ in rows:
        t = sorted(times[label])
        med = t[rounds // 2]
        unit, scale = ("ms", 1e3) if "Hessian" in label else ("us", 1e6)
        print(f"{name:3} {label:36} {scale * med:10.1f} {unit}  (min {scale * t[0]:.1f}, max {scale * t[-1]:.1f})"
              f"  {med / grad:5.2f}x the gradient")


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    print(f"torch {torch.__version__}: medians of {rounds} interleaved rounds, 1 thread, float64, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bench("S", *network(10, 64, 7), 200, rounds, True)
    bench("M", *network(100, 256, 256), 10, rounds, False)


if __name__ == "__main__":
    main()
