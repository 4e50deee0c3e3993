"""Readers for the standard on-disk dataset formats: IDX (MNIST family), CIFAR-10 python batches, image folders.

Nothing here downloads. Each reader validates what it reads and fails with a message that names the file,
what was expected and what was found.
"""
from __future__ import annotations

import gzip
import pathlib
import pickle

import numpy as np

# -- IDX (http://yann.lecun.com/exdb/mnist/: "FILE FORMATS FOR THE MNIST DATABASE") -----------------------
# Header: two zero bytes, a type code, the number of dimensions, then one big-endian uint32 per dimension.
# MNIST's label files have magic 2049 (0x00000801: ubyte, 1 dim), image files 2051 (0x00000803: ubyte, 3 dims).
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_LABELS_MAGIC = 2049
IDX_IMAGES_MAGIC = 2051


def _read_bytes(path: pathlib.Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip, whatever the file is called
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, gzip.BadGzipFile) as exc:
            raise ValueError(f"{path}: corrupt or truncated gzip stream ({exc})") from exc
    return raw


def read_idx(path, expected_magic: int | None = None) -> np.ndarray:
    """Read one IDX file (gzipped or not) into an array of its declared type and shape.

    ``expected_magic`` (2049 labels, 2051 images) is checked when given. A wrong magic number, a
    header that is cut short, or fewer data bytes than the header declares raise ``ValueError``.
    """
    path = pathlib.Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated IDX file: {len(raw)} bytes, shorter than the 4-byte magic number")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or type_code not in IDX_TYPES or ndim == 0:
        raise ValueError(f"{path}: not an IDX file: magic number {magic} (0x{magic:08x}) is not 0x0000TTDD "
                         f"with a known type TT and at least one dimension DD")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(f"{path}: wrong IDX magic number: expected {expected_magic}, got {magic}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header: {ndim} dimensions need {header} bytes, file has {len(raw)}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_TYPES[type_code])
    need = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    have = len(raw) - header
    if have < need:
        raise ValueError(f"{path}: truncated IDX data: header declares shape {dims} ({need} bytes), "
                         f"file holds {have} bytes")
    if have > need:
        raise ValueError(f"{path}: IDX file has {have - need} bytes after the declared shape {dims}")
    return np.frombuffer(raw, dtype=dtype, count=need // dtype.itemsize, offset=header).reshape(dims)


IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find_idx(root: pathlib.Path, stem: str) -> pathlib.Path | None:
    dotted = stem.replace("-idx", ".idx")  # some mirrors name them train-images.idx3-ubyte
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (root / name).is_file():
            return root / name
    return None


def load_idx_split(root, split: str, source: str = "") -> tuple:
    """Images ``(N, 28, 28)`` uint8 and labels ``(N,)`` uint8 of one split of an IDX directory."""
    root = pathlib.Path(root)
    names = IDX_FILES[split]
    paths = [_find_idx(root, s) for s in names]
    if not root.is_dir() or None in paths:
        expected = ", ".join(f"{s}[.gz]" for pair in IDX_FILES.values() for s in pair)
        raise FileNotFoundError(
            f"IDX dataset directory {str(root)!r} is missing "
            f"{'the directory itself' if not root.is_dir() else [s for s, p in zip(names, paths) if p is None]}; "
            f"expected the four standard files {expected}" + (f" (get them from {source})" if source else "")
            + ". slimgrad never downloads.")
    images = read_idx(paths[0], IDX_IMAGES_MAGIC)
    labels = read_idx(paths[1], IDX_LABELS_MAGIC)
    if images.ndim != 3:
        raise ValueError(f"{paths[0]}: expected 3 dimensions (N, H, W), got shape {images.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{paths[0]} holds {len(images)} images but {paths[1]} holds {len(labels)} labels")
    return images, labels


# -- CIFAR-10 python batches (https://www.cs.toronto.edu/~kriz/cifar.html, "CIFAR-10 python version") ------
# The only distribution of CIFAR-10 for Python is pickled dicts. Unpickling runs whatever the file names, so
# this reader allows exactly the four globals a pickled uint8 ndarray needs and refuses everything else.
def _numpy_reconstruct():
    from numpy._core import multiarray  # numpy >= 2; older pickles say numpy.core.multiarray

    return multiarray._reconstruct


_CIFAR_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): None,  # protocol-2 pickles written by Python 3 encode bytes this way
}


def _latin1_encode(text, encoding="latin1"):
    """``_codecs.encode`` limited to latin-1: how protocol-2 pickles from Python 3 spell raw bytes."""
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r} in a CIFAR batch")
    return text.encode("latin1")


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only ``numpy`` array reconstruction (``_reconstruct``, ``ndarray``,
    ``dtype``) and latin-1 ``_codecs.encode``; any other global raises ``pickle.UnpicklingError``."""

    def find_class(self, module, name):
        key = (module, name)
        if key not in _CIFAR_ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to unpickle global {module}.{name}: CIFAR batch files may only contain builtin "
                f"containers, bytes, str, int and numpy arrays")
        if key == ("_codecs", "encode"):
            return _latin1_encode
        return _CIFAR_ALLOWED[key]()


CIFAR10_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def read_cifar_batch(path) -> tuple:
    """One CIFAR-10 batch file: images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` int64."""
    path = pathlib.Path(path)
    try:
        with open(path, "rb") as f:
            entry = RestrictedUnpickler(f, encoding="bytes").load()
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable CIFAR-10 batch ({type(exc).__name__}: {exc})") from exc
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(entry).__name__}")
    entry = {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}
    if "data" not in entry or "labels" not in entry:
        raise ValueError(f"{path}: expected keys 'data' and 'labels', got {sorted(entry)}")
    data = np.asarray(entry["data"])
    labels = np.asarray(entry["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: expected 'data' uint8 of shape (N, 3072), got {data.dtype} {data.shape}")
    if len(labels) != len(data):
        raise ValueError(f"{path}: {len(data)} images but {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10_split(root, split: str) -> tuple:
    root = pathlib.Path(root)
    names = CIFAR10_FILES[split]
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 directory {str(root)!r} is missing {missing}; expected data_batch_1 ... data_batch_5 and "
            f"test_batch from the 'CIFAR-10 python version' archive at https://www.cs.toronto.edu/~kriz/cifar.html "
            f"(extract cifar-10-python.tar.gz, point root at cifar-10-batches-py). slimgrad never downloads.")
    parts = [read_cifar_batch(root / n) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# -- image folders ------------------------------------------------------------------------------------------
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def read_image_folder(root, mode: str = "RGB", size=None) -> tuple:
    """Images ``(N, C, H, W)`` uint8, labels ``(N,)`` int64 and class names from ``root/<class>/<image>``.

    Classes are the sorted sub-folder names. ``mode`` is a Pillow mode (``'RGB'``, ``'L'``); ``size``
    ``(height, width)`` resizes every image (bilinear), otherwise all images must share one size.
    Needs Pillow (``pip install slimgrad[datasets]``).
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image_folder: directory {str(root)!r} not found; expected one sub-folder per "
                                f"class holding {'/'.join(IMAGE_EXTENSIONS)} images")
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - optional dependency
        raise ImportError("image_folder needs Pillow: pip install 'slimgrad[datasets]'") from exc
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    files, labels = [], []
    for k, name in enumerate(classes):
        found = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        files += found
        labels += [k] * len(found)
    if not files:
        raise FileNotFoundError(f"image_folder: no images ({'/'.join(IMAGE_EXTENSIONS)}) in class sub-folders of "
                                f"{str(root)!r} (found sub-folders {classes})")
    arrays = []
    for p in files:  # decoding is per file by nature; everything after it is one array
        with Image.open(p) as im:
            im = im.convert(mode)
            if size is not None:
                im = im.resize((int(size[1]), int(size[0])), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
        arrays.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"image_folder: images in {str(root)!r} have different sizes {sorted(shapes)}; "
                         f"pass size=(height, width) to resize them")
    return np.stack(arrays), np.asarray(labels, dtype=np.int64), classes

