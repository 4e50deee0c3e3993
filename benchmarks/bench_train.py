"""W6-W8: one training step (forward, cross-entropy, backward, Adam) of slimgrad vs PyTorch eager, side by side.

    python benchmarks/bench_train.py [--iters 30] [--threads 2] [--write]

Both frameworks run the same architecture (../shared/BENCHMARKS.md) with the same thread count, alternating
in blocks of steps after a warm-up; a block is dropped when other processes used more than ``--max-other``
cores during it (from /proc/stat minus this process's own CPU time). Reports medians per step and the
ratio slimgrad / PyTorch; ``--write`` puts the table into benchmarks/RESULTS.md between this script's
markers (other sections of that file are left alone).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

MARK_BEGIN = "<!-- bench_train: begin -->"
MARK_END = "<!-- bench_train: end -->"


def _set_threads(n: int) -> None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)  # before NumPy loads BLAS
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(n)
    except ImportError:
        pass


# ------------------------------------------------------------------------------------------ models
def build_model(nn, workload: str):
    """The W6/W7/W8 network from BENCHMARKS.md, built with ``nn`` (``slimgrad.nn`` or ``torch.nn``: same API)."""
    if workload == "W8":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                             nn.Linear(256, 10))
    stem = [nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU()]
    if workload == "W6":
        body = [nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
                nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.BatchNorm2d(128), nn.ReLU()]
    else:
        body = []
        for cin, cout in ((32, 64), (64, 128)):
            body += [nn.Conv2d(cin, cin, 3, stride=2, padding=1, groups=cin), nn.BatchNorm2d(cin), nn.ReLU(),
                     nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout), nn.ReLU()]
    return nn.Sequential(*stem, *body, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.25), nn.Linear(128, 10))


def make_steps(workload: str):
    """``(slimgrad_step, torch_step)``: closures running one training step on a fixed batch."""
    import numpy as np
    import torch

    import slimgrad as sg
    import slimgrad.functional as F
    from slimgrad import optim

    batch = 128 if workload == "W8" else 64
    rng = np.random.default_rng(0)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    sg.manual_seed(0)
    torch.manual_seed(0)
    sm, tm = build_model(sg.nn, workload), build_model(torch.nn, workload)
    with torch.no_grad():  # same initial weights on both sides
        for (_, p), (_, q) in zip(sm.named_parameters(), tm.named_parameters()):
            q.copy_(torch.from_numpy(p.data.copy()))
    sopt, topt = optim.Adam(sm.parameters(), lr=1e-3), torch.optim.Adam(tm.parameters(), lr=1e-3)
    sx, sy = sg.tensor(x), sg.tensor(y)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    sm.train()
    tm.train()

    def sg_step():
        sopt.zero_grad()
        loss = F.cross_entropy(sm(sx), sy)
        loss.backward()
        sopt.step()
        return loss.item()

    def torch_step():
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tm(tx), ty)
        loss.backward()
        topt.step()
        return loss.item()

    return sg_step, torch_step


# ------------------------------------------------------------------------------------------ timing
def _busy_ticks() -> int:
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    values = [int(v) for v in parts]
    return sum(values) - values[3] - values[4]  # minus idle and iowait


def _own_ticks() -> int:
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (all threads)


def _block(step, n: int):
    """Run ``n`` steps; return (seconds per step, cores used by other processes meanwhile)."""
    have_proc = os.path.exists("/proc/stat")
    if have_proc:
        busy0, own0 = _busy_ticks(), _own_ticks()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    wall = time.perf_counter() - t0
    other = 0.0
    if have_proc:
        hz = os.sysconf("SC_CLK_TCK")
        other = max(0, (_busy_ticks() - busy0) - (_own_ticks() - own0)) / hz / wall
    return wall / n, other


def measure(workload: str, iters: int, max_other: float, warmup: int = 3):
    sg_step, torch_step = make_steps(workload)
    for _ in range(warmup):
        sg_step()
        torch_step()
    # blocks of ~0.2 s so /proc/stat's 10 ms ticks can tell disturbance apart from our own work
    per_block = max(1, int(0.2 / max(_block(sg_step, 1)[0], 1e-4)))
    clean = {"slimgrad": [], "torch": []}
    every = {"slimgrad": [], "torch": []}
    dropped = attempts = 0
    blocks_wanted = max(3, -(-iters // per_block))
    while min(len(v) for v in clean.values()) < blocks_wanted and attempts < 3 * blocks_wanted:
        attempts += 1
        for name, step in (("slimgrad", sg_step), ("torch", torch_step)):
            t, other = _block(step, per_block)
            every[name].append(t)
            if other > max_other:
                dropped += 1
            else:
                clean[name].append(t)
    disturbed = min(len(v) for v in clean.values()) < 3
    times = every if disturbed else clean  # a busy machine: report everything, flagged
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    return {"workload": workload, "slimgrad_ms": med["slimgrad"], "torch_ms": med["torch"],
            "ratio": med["slimgrad"] / med["torch"], "blocks": min(len(v) for v in times.values()),
            "steps_per_block": per_block, "dropped": 0 if disturbed else dropped, "disturbed": disturbed}


def _table(results, threads: int) -> str:
    import numpy as np
    import torch

    lines = [
        "## Training steps W6-W8 (benchmarks/bench_train.py)", "",
        f"One step = forward, cross-entropy, backward, Adam update; float32; {threads} threads both sides "
        f"(torch.set_num_threads, OpenBLAS); alternating blocks of steps after warm-up, medians; blocks where "
        f"other processes used CPU dropped. numpy {np.__version__}, torch {torch.__version__}, "
        f"{platform.machine()}, GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', 'unset')}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
        "| id | slimgrad ms | PyTorch eager ms | ratio | blocks x steps | dropped |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        flag = " (busy machine: nothing dropped)" if r["disturbed"] else ""
        lines.append(f"| {r['workload']} | {r['slimgrad_ms']:.2f} | {r['torch_ms']:.2f} | {r['ratio']:.2f}x{flag} | "
                     f"{r['blocks']} x {r['steps_per_block']} | {r['dropped']} |")
    return "\n".join(lines) + "\n"


def write_results(text: str, path: str) -> None:
    """Replace this script's section of RESULTS.md (between the markers), or append it."""
    section = f"{MARK_BEGIN}\n{text}{MARK_END}\n"
    old = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    if MARK_BEGIN in old and MARK_END in old:
        head, rest = old.split(MARK_BEGIN, 1)
        new = head + section + rest.split(MARK_END, 1)[1].lstrip("\n")
    else:
        new = old.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(new)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iters", type=int, default=30, help="timed steps per framework and workload")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-other", type=float, default=0.3, help="drop blocks when others used > this many cores")
    parser.add_argument("--workloads", default="W6,W7,W8")
    parser.add_argument("--write", action="store_true", help="write the table into benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    _set_threads(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    results = []
    for w in args.workloads.split(","):
        r = measure(w.strip(), args.iters, args.max_other)
        results.append(r)
        print(f"{r['workload']}: slimgrad {r['slimgrad_ms']:.2f} ms  torch {r['torch_ms']:.2f} ms  "
              f"ratio {r['ratio']:.2f}x  ({r['blocks']} blocks x {r['steps_per_block']} steps, "
              f"{r['dropped']} dropped{', busy machine' if r['disturbed'] else ''})", flush=True)
    text = _table(results, args.threads)
    if args.write:
        write_results(text, os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md"))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
