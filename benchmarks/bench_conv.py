"""Convolution workloads W1-W5 (see BENCHMARKS.md): slimgrad vs PyTorch eager, side by side in one process.

Each timed step is forward + backward with the input, weight and bias gradients. The two frameworks
alternate (the order flips every round), after a warm-up; each side's turn is ``--repeat`` back-to-back steps,
the first untimed and the median of the others kept: right after a PyTorch step its OpenMP workers keep
spinning for a few milliseconds and take a core from whatever runs next (measured: slimgrad's first step
after one is up to 1.3x slower; with ``OMP_WAIT_POLICY=PASSIVE`` the effect is gone and PyTorch's own times
do not change), so each side is timed in its steady state, as in a training loop. A round is dropped when
other processes used more than ``--max-foreign`` of the machine's CPU while it ran (read from /proc/stat
against this process's own CPU time), and the medians of the kept rounds are reported. Both sides run in
this process, so they share the allocator setting (GLIBC_TUNABLES; ``import slimgrad`` tells glibc to keep
freed memory, which PyTorch then enjoys too) and the thread count (BLAS and torch both set to ``--threads``).

    python benchmarks/bench_conv.py [--rounds 30] [--repeat 3] [--threads 2] [--write benchmarks/RESULTS.md]
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def _set_threads(n: int) -> None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)  # read when the BLAS libraries load, so before importing numpy / torch


WORKLOADS = {
    "W1": dict(what="conv2d 3x3, 32->64, N=64, 28x28, pad 1", op="conv", x=(64, 32, 28, 28), w=(64, 32, 3, 3),
               kw=dict(padding=1)),
    "W2": dict(what="depthwise 3x3, C=64, N=64, 28x28, pad 1", op="conv", x=(64, 64, 28, 28), w=(64, 1, 3, 3),
               kw=dict(padding=1, groups=64)),
    "W3": dict(what="pointwise 1x1, 64->128, N=64, 28x28", op="conv", x=(64, 64, 28, 28), w=(128, 64, 1, 1), kw={}),
    "W4": dict(what="dilated 3x3 d2 pad 2, 32->32, N=16, 64x64", op="conv", x=(16, 32, 64, 64), w=(32, 32, 3, 3),
               kw=dict(padding=2, dilation=2)),
    "W5": dict(what="conv_transpose2d k2 s2, 64->32, N=64, 14x14->28x28", op="transpose", x=(64, 64, 14, 14),
               w=(64, 32, 2, 2), kw=dict(stride=2)),
}


def _cpu_jiffies():
    """(all CPUs' busy time, this process's CPU time), both in seconds."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)  # minus idle and iowait
    t = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), t.user + t.system


def _make_steps(spec, np, torch, sg, seed=0):
    import torch.nn.functional as TF
    from slimgrad.ops.conv import conv2d, conv_transpose2d

    rng = np.random.default_rng(seed)
    x = rng.standard_normal(spec["x"]).astype(np.float32)
    w = (rng.standard_normal(spec["w"]) * 0.1).astype(np.float32)
    c_out = spec["w"][0] if spec["op"] == "conv" else spec["w"][1] * spec["kw"].get("groups", 1)
    b = rng.standard_normal(c_out).astype(np.float32)
    sg_fn = conv2d if spec["op"] == "conv" else conv_transpose2d
    th_fn = TF.conv2d if spec["op"] == "conv" else TF.conv_transpose2d
    sx, sw, sb = (sg.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    with torch.no_grad():
        out_shape = th_fn(tx, tw, tb, **spec["kw"]).shape
    upstream = rng.standard_normal(tuple(out_shape)).astype(np.float32)
    t_up = torch.tensor(upstream)

    def sg_step():
        sx.grad = sw.grad = sb.grad = None
        sg_fn(sx, sw, sb, **spec["kw"]).backward(upstream)

    def torch_step():
        tx.grad = tw.grad = tb.grad = None
        th_fn(tx, tw, tb, **spec["kw"]).backward(t_up)

    return sg_step, torch_step


def _timed(step, ncpu, clock):
    busy0, own0 = _cpu_jiffies()
    c0, t0 = time.process_time(), time.perf_counter()
    step()
    c1, t1 = time.process_time(), time.perf_counter()
    wall = t1 - t0
    busy1, own1 = _cpu_jiffies()
    foreign = max(0.0, (busy1 - busy0) - (own1 - own0))
    return (c1 - c0 if clock == "cpu" else wall), foreign / max(wall * ncpu, 1e-3)


def run(names, rounds, warmup, threads, max_foreign, clock="wall", repeat=1):
    import numpy as np
    import torch

    import slimgrad as sg
    from slimgrad.ops.window import set_num_workers

    torch.set_num_threads(threads)
    set_num_workers(threads)  # slimgrad's conv kernels split the batch over this many threads
    ncpu = os.cpu_count() or 1
    results = {}
    for name in names:
        sg_step, torch_step = _make_steps(WORKLOADS[name], np, torch, sg)
        for _ in range(warmup):
            sg_step()
            torch_step()
        rows = []  # (foreign share, slimgrad s, torch s) per round
        for r in range(rounds):
            order = [("slimgrad", sg_step), ("torch", torch_step)]
            if r % 2:
                order.reverse()
            pair = {}
            for label, step in order:
                if repeat > 1:
                    step()  # untimed: the other side's spinning threads, cold caches and idle cores settle
                    timed = [_timed(step, ncpu, clock) for _ in range(repeat - 1)]
                    pair[label] = (float(np.median([t for t, _ in timed])), max(f for _, f in timed))
                else:
                    pair[label] = _timed(step, ncpu, clock)
            rows.append((max(f for _, f in pair.values()), pair["slimgrad"][0], pair["torch"][0]))
        kept = [row for row in rows if row[0] <= max_foreign]
        quiet = len(kept) >= 3
        if not quiet:  # a busy machine: fall back on the least disturbed third, and say so in the table
            kept = sorted(rows)[:max(3, len(rows) // 3)]
        sg_ms = float(np.median([row[1] for row in kept])) * 1e3
        th_ms = float(np.median([row[2] for row in kept])) * 1e3
        foreign = float(np.median([row[0] for row in kept]))
        ratio = float(np.median([row[1] / row[2] for row in kept]))  # paired per round: robust to drift
        results[name] = dict(slimgrad=sg_ms, torch=th_ms, ratio=ratio, kept=len(kept), rounds=rounds,
                             foreign=foreign, quiet=quiet)
        print(f"{name}  slimgrad {sg_ms:8.2f} ms  torch {th_ms:8.2f} ms  ratio {ratio:5.2f}  "
              f"(kept {len(kept)}/{rounds}, foreign CPU {foreign:.0%}{'' if quiet else ', machine busy'})",
              flush=True)
    return results


def _table(results, threads, rounds, clock="wall", repeat=1):
    tunables = os.environ.get("GLIBC_TUNABLES") or "unset (glibc defaults)"
    what = "wall-clock" if clock == "wall" else "process CPU time (robust to a busy machine at 1 thread)"
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {what}, {threads} thread(s) on both sides, "
        f"GLIBC_TUNABLES={tunables}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE') or 'unset'}, "
        f"{rounds} alternating rounds "
        f"({'one step per turn' if repeat <= 1 else f'{repeat} steps per turn, the first untimed'}), "
        f"medians of the undisturbed ones. slimgrad: OpenBLAS {threads} thread(s), "
        f"{threads} conv worker(s) (OpenBLAS 1 thread each while they run); PyTorch: torch.set_num_threads({threads}).",
        "",
        "| workload | what | slimgrad ms | PyTorch ms | ratio (median of per-round ratios) | rounds kept | "
        "other processes' CPU |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, res in results.items():
        busy = "" if res["quiet"] else " (busy: least disturbed third)"
        lines.append(f"| {name} | {WORKLOADS[name]['what']} | {res['slimgrad']:.1f} | {res['torch']:.1f} | "
                     f"{res['ratio']:.2f} | {res['kept']}/{res['rounds']}{busy} | {res['foreign']:.0%} |")
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- bench_conv: begin -->", "<!-- bench_conv: end -->"


def write_results(path, table, reset=False):
    """Append this run's table to this script's section of ``path`` (between its markers; ``reset`` starts
    the section afresh), keeping everything else in the file."""
    text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    header = "## Convolution kernels, W1-W5 (`benchmarks/bench_conv.py`)\n\n"
    if BEGIN in text and END in text and not reset:
        head, rest = text.split(BEGIN, 1)
        body, tail = rest.split(END, 1)
        text = head + BEGIN + body + table + "\n" + END + tail
    elif BEGIN in text and END in text:  # keep the section's prose (everything before its first table)
        head, rest = text.split(BEGIN, 1)
        body, tail = rest.split(END, 1)
        prose = body.split("\nRun ", 1)[0].rstrip("\n") + "\n\n" if "\nRun " in body else "\n" + header
        text = head + BEGIN + prose + table + "\n" + END + tail
    else:
        text = text.rstrip("\n") + "\n\n" + BEGIN + "\n" + header + table + "\n" + END + "\n"
    with open(path, "w") as f:
        f.write(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=list(WORKLOADS), help="subset of W1..W5")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-foreign", type=float, default=0.15,
                        help="drop a round when other processes used more than this share of all CPUs "
                             "(if fewer than 3 rounds pass, the least disturbed third is kept and the table says so)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="time each step by the wall clock, or by this process's CPU time (meaningful with "
                             "--threads 1 on a busy machine, where wall time mostly measures the other processes)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="steps per framework per round, back to back: the first untimed, the median of the "
                             "others kept (each side timed in its steady state; the sides still alternate)")
    parser.add_argument("--write", metavar="RESULTS_MD", help="append the table to this markdown file")
    parser.add_argument("--reset", action="store_true",
                        help="with --write: replace the earlier runs' tables (the prose above them is kept)")
    args = parser.parse_args(argv)
    _set_threads(args.threads)
    results = run(args.workloads, args.rounds, args.warmup, args.threads, args.max_foreign, args.clock, args.repeat)
    table = _table(results, args.threads, args.rounds, args.clock, args.repeat)
    print(table)
    if args.write:
        write_results(args.write, table, reset=args.reset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
