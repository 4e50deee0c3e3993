"""Optimizer step time, slimgrad vs PyTorch eager (default single-tensor CPU path), side by side.

Parameter sets: the parameters of W8 (MLP 784-256-256-10), of W6 (std-cnn) and one large 4M-element set.
Both sides get the same gradients; the two libraries alternate, medians are reported, ratio = slimgrad / torch.

    python benchmarks/bench_optim.py [--repeats 200] [--optimizers Adam,SGD-momentum] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import slimgrad.optim as optim
from slimgrad.autograd import Tensor
from slimgrad.nn import Parameter

PARAM_SETS = {
    "W8 MLP (269k)": [(256, 784), (256,), (256, 256), (256,), (10, 256), (10,)],
    "W6 std-cnn (94k)": [(32, 1, 3, 3), (32,), (32,), (32,), (64, 32, 3, 3), (64,), (64,), (64,),
                         (128, 64, 3, 3), (128,), (128,), (128,), (10, 128), (10,)],
    "large (4.2M)": [(2048, 2048), (2048,), (10, 2048)],
}

OPTIMIZERS = {
    "SGD": {"lr": 0.01},
    "SGD-momentum": {"lr": 0.01, "momentum": 0.9, "nesterov": True},
    "Adagrad": {},
    "RMSprop": {},
    "Adam": {},
    "AdamW": {},
    "NAdam": {},
    "RAdam": {},
}


def _bench(shapes, name, kwargs, repeats):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    sg_params = [Parameter(a.copy()) for a in arrays]
    th_params = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
    for p, q, g in zip(sg_params, th_params, grads):
        p.grad = Tensor(g.copy())
        q.grad = torch.tensor(g)
    cls = name.split("-")[0]
    sg_opt = getattr(optim, cls)(sg_params, **kwargs)
    th_opt = getattr(torch.optim, cls)(th_params, **kwargs)
    sg_times, th_times = [], []
    for i in range(repeats + 10):
        t0 = time.perf_counter()
        sg_opt.step()
        t1 = time.perf_counter()
        with torch.no_grad():
            th_opt.step()
        t2 = time.perf_counter()
        if i >= 10:  # warm-up
            sg_times.append(t1 - t0)
            th_times.append(t2 - t1)
    return statistics.median(sg_times) * 1e3, statistics.median(th_times) * 1e3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    parser.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads (BENCHMARKS.md: 2)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, numpy {np.__version__}, torch threads {torch.get_num_threads()}")
    print("| parameters | optimizer | slimgrad ms | PyTorch ms | ratio |")
    print("|---|---|---:|---:|---:|")
    for set_name, shapes in PARAM_SETS.items():
        for name in args.optimizers.split(","):
            repeats = args.repeats if not set_name.startswith("large") else max(args.repeats // 10, 5)
            ours, theirs = _bench(shapes, name, OPTIMIZERS[name], repeats)
            print(f"| {set_name} | {name} | {ours:.3f} | {theirs:.3f} | {ours / theirs:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
