"""``slimgrad augment``: write a PNG of original samples next to their augmented versions."""
from __future__ import annotations

import numpy as np


def add_arguments(parser) -> None:
    from ..data.datasets import DATASET_NAMES

    parser.add_argument("--dataset", default="mnist-5k", choices=DATASET_NAMES, help="dataset (default: mnist-5k)")
    parser.add_argument("--root", default=None, help="directory of a file-backed dataset (mnist, cifar10, ...)")
    parser.add_argument("--transforms", default="standard",
                        help="preset (none, light, standard, heavy) or spec like 'rotate=15,translate=0.1,erase=0.25'")
    parser.add_argument("--out", default="augment_grid.png", help="output PNG path (default: augment_grid.png)")
    parser.add_argument("--n", type=int, default=16, help="number of samples (default: 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the sample choice and the augmentation")


def run(args) -> int:
    from ..data import augment, get_dataset

    if args.n < 1:
        raise SystemExit(f"slimgrad augment: --n must be at least 1, got {args.n}")
    kwargs = {"n": args.n, "n_test": 1} if args.dataset == "shapes" else {}
    try:
        train, _, info = get_dataset(args.dataset, root=args.root, **kwargs)
    except (FileNotFoundError, ValueError, ImportError) as exc:  # a missing or unreadable dataset directory
        raise SystemExit(f"slimgrad augment: {exc}") from None
    try:
        transform = augment.parse_augment(args.transforms, num_classes=info.num_classes)
    except ValueError as exc:
        raise SystemExit(f"slimgrad augment: --transforms: {exc}") from None
    rng = np.random.default_rng(args.seed)
    indices = np.sort(rng.choice(len(train), size=min(args.n, len(train)), replace=False))
    images, targets = train.get_batch(indices)[:2]
    is_mask = info.task == "segmentation"  # masks move with the images; labels feed MixUp/CutMix
    try:
        augmented, _, _ = transform.apply(images, None if is_mask else targets, targets if is_mask else None,
                                          rng=rng)
    except ValueError as exc:
        raise SystemExit(f"slimgrad augment: {exc}") from None
    try:
        path = augment.show_grid(images, augmented, args.out)
    except OSError as exc:
        raise SystemExit(f"slimgrad augment: cannot write --out {args.out!r}: {exc}") from None
    print(f"wrote {path} ({len(indices)} {info.name} samples, transforms: {args.transforms})")
    return 0

