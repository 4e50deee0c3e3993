"""See augmentation: a PNG of original samples beside their augmented versions (matplotlib, Agg)."""
from __future__ import annotations

import pathlib

import numpy as np


def _mosaic(images: np.ndarray, cols: int) -> np.ndarray:
    """(N, C, H, W) -> one (rows*(H+1)-1, cols*(W+1)-1, C) tile image with 1-pixel white gutters."""
    n, c, h, w = images.shape
    rows = -(-n // cols)
    canvas = np.ones((rows * (h + 1) - 1, cols * (w + 1) - 1, c), dtype=np.float32)
    tiles = np.ones((rows * cols, c, h, w), dtype=np.float32)
    tiles[:n] = images
    tiles = tiles.reshape(rows, cols, c, h, w).transpose(0, 3, 1, 4, 2)  # rows, h, cols, w, c
    padded = np.ones((rows, h + 1, cols, w + 1, c), dtype=np.float32)
    padded[:, :h, :, :w] = tiles
    canvas[:] = padded.reshape(rows * (h + 1), cols * (w + 1), c)[:-1, :-1]
    return canvas


def _display(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    lo, hi = images.min(), images.max()
    if lo < 0.0 or hi > 1.0:  # normalised data: stretch to [0, 1] for display only
        images = (images - lo) / max(hi - lo, 1e-12)
    return images


def show_grid(images, augmented, path, cols: int | None = None, titles=("original", "augmented"),
              dpi: int = 100) -> pathlib.Path:
    """Write ``path`` (PNG): a panel of ``images`` (N, C, H, W) next to a panel of ``augmented``.

    Sample ``i`` sits at the same place in both panels. Values are shown as [0, 1] (stretched if outside);
    1-channel images are drawn in grey, 3-channel as RGB. Returns the path. Needs matplotlib.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - optional dependency
        raise ImportError("show_grid needs matplotlib: pip install 'slimgrad[plot]'") from exc
    images, augmented = np.asarray(images), np.asarray(augmented)
    if images.ndim != 4 or augmented.ndim != 4 or images.shape[0] != augmented.shape[0]:
        raise ValueError(f"show_grid: expected two (N, C, H, W) batches of equal N, got {images.shape} and "
                         f"{augmented.shape}")
    if images.shape[1] not in (1, 3):
        raise ValueError(f"show_grid: images must have 1 or 3 channels, got {images.shape[1]}")
    n = images.shape[0]
    cols = cols or int(np.ceil(np.sqrt(n)))
    panels = [_mosaic(_display(images), cols), _mosaic(_display(augmented), cols)]
    fig = Figure(figsize=(2 * max(3.0, 0.5 * cols * images.shape[3] / 8), max(3.0, 0.5 * cols * images.shape[2] / 8)))
    FigureCanvasAgg(fig)
    for k, (panel, title) in enumerate(zip(panels, titles)):
        ax = fig.add_subplot(1, 2, k + 1)
        if panel.shape[2] == 1:
            ax.imshow(panel[:, :, 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        else:
            ax.imshow(np.clip(panel, 0.0, 1.0), interpolation="nearest")
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 0.96))
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
