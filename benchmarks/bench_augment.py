"""Cost of augmentation per batch next to one training step of sep_cnn, on 256 MNIST images.

    python benchmarks/bench_augment.py [--batch 256] [--reps 20] [--threads N]

Prints the median milliseconds per batch for every preset (``none``, ``light``, ``standard``, ``heavy``),
for a DataLoader epoch with ``standard`` (0 and 2 worker threads), and for one ``sep_cnn`` training step
(forward, cross-entropy, backward, Adam) on the same batch, when the model zoo and optimizers are present.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def median_ms(fn, reps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: library default)")
    args = parser.parse_args(argv)
    if args.threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)

    import numpy as np

    import slimgrad as sg
    from slimgrad.data import DataLoader, augment, get_dataset

    train, _, info = get_dataset("mnist-5k")
    images, labels = train.get_batch(np.arange(args.batch))
    rng = np.random.default_rng(0)
    print(f"augmentation of {args.batch} MNIST images {tuple(images.shape[1:])}, median of {args.reps} runs")
    rows = []
    for preset in augment.PRESETS:
        t = augment.parse_augment(preset, num_classes=info.num_classes)
        rows.append((f"augment {preset}", median_ms(lambda: t.apply(images, labels, rng=rng), args.reps)))
    for name, t in [("RandomAffine", augment.RandomAffine(15, (0.1, 0.1), (0.9, 1.1), 10)),
                    ("ElasticTransform", augment.ElasticTransform()), ("RandomCrop pad 2", augment.RandomCrop(padding=2)),
                    ("GaussianBlur 5", augment.GaussianBlur(5)), ("MixUp", augment.MixUp(num_classes=10)),
                    ("CutMix", augment.CutMix(num_classes=10))]:
        rows.append((f"  {name}", median_ms(lambda: t.apply(images, labels, rng=rng), args.reps)))

    standard = augment.parse_augment("standard")
    for workers in (0, 2):
        loader = DataLoader(train, batch_size=args.batch, shuffle=True, seed=0, transform=standard,
                            num_workers=workers)
        per_epoch = median_ms(lambda: [None for _ in loader], max(3, args.reps // 5), warmup=1)
        rows.append((f"DataLoader standard, {workers} workers (per batch)", per_epoch / len(loader)))

    try:
        import slimgrad.functional as F
        from slimgrad.models import sep_cnn
        from slimgrad.optim import Adam
    except ImportError as exc:  # pragma: no cover - depends on other parts being present
        print(f"(no training step: {exc})", file=sys.stderr)
    else:
        sg.manual_seed(0)
        model = sep_cnn(in_channels=1, num_classes=10, input_size=28)
        model.train()
        opt = Adam(model.parameters(), lr=1e-3)
        x, y = sg.Tensor._wrap(images), sg.Tensor._wrap(labels)

        def step():
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()

        rows.append(("sep_cnn training step", median_ms(step, max(5, args.reps // 2))))

    width = max(len(name) for name, _ in rows)
    for name, ms in rows:
        print(f"{name:<{width}}  {ms:9.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
