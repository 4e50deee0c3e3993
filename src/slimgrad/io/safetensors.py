"""Reader and writer of the safetensors format (no pickle, no dependency on the ``safetensors`` package).

Layout of a file::

    8 bytes   N, the header length, unsigned little-endian
    N bytes   JSON header: {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
              "__metadata__": {"key": "value", ...}}   (padded with spaces so the data starts 8-aligned)
    rest      the raw little-endian bytes of every tensor, back to back; offsets are relative to the
              start of this buffer and must tile it exactly (no gaps, no overlaps)

The API mirrors ``safetensors.numpy``: :func:`save`, :func:`save_file`, :func:`load`, :func:`load_file`,
plus :func:`read_metadata`. Every malformed input raises :class:`SafetensorsError` naming the file and
the problem.
"""
from __future__ import annotations

import json
import os
import struct

import numpy as np

__all__ = ["SafetensorsError", "save", "save_file", "load", "load_file", "read_metadata", "DTYPES"]

DTYPES = {
    "BOOL": np.dtype("bool"),
    "U8": np.dtype("<u1"), "I8": np.dtype("<i1"),
    "U16": np.dtype("<u2"), "I16": np.dtype("<i2"), "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"), "I32": np.dtype("<i4"), "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F64": np.dtype("<f8"),
}
"""safetensors dtype code -> little-endian NumPy dtype (BF16 and FP8 have no NumPy dtype)."""

_CODES = {(dt.kind, dt.itemsize): code for code, dt in DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's limit


class SafetensorsError(ValueError):
    """A safetensors file or buffer is malformed, or a tensor cannot be stored."""


# ------------------------------------------------------------------------------------------ writing
def save(tensors: dict, metadata: dict | None = None) -> bytes:
    """Serialize ``{name: array}`` (and an optional ``{str: str}`` metadata map) to safetensors bytes."""
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise SafetensorsError(f"save: metadata must map str to str, got {metadata!r}")
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise SafetensorsError(f"save: tensor names must be str, got {name!r}")
        if name == "__metadata__":
            raise SafetensorsError("save: '__metadata__' is reserved and cannot name a tensor")
        arr = np.asarray(value.data if hasattr(value, "_ctx") else value)
        code = _CODES.get((arr.dtype.kind, arr.dtype.itemsize))
        if code is None:
            raise SafetensorsError(f"save: tensor {name!r} has dtype {arr.dtype}, which safetensors cannot "
                                   f"store (expected one of {sorted(DTYPES)})")
        arrays[name] = (code, np.asarray(arr, dtype=DTYPES[code], order="C"))  # keeps 0-d shapes
    # largest items first, then by name: every tensor starts aligned to its item size (as the reference does)
    order = sorted(arrays, key=lambda n: (-arrays[n][1].dtype.itemsize, n))
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = dict(metadata)
    for name in order:
        code, arr = arrays[name]
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    parts = [struct.pack("<Q", len(head)), head]
    parts.extend(arrays[name][1].tobytes() for name in order)
    return b"".join(parts)


def save_file(tensors: dict, filename, metadata: dict | None = None) -> None:
    """Write ``tensors`` to ``filename`` in safetensors format (not atomic: see ``train.checkpoint``)."""
    data = save(tensors, metadata)
    with open(filename, "wb") as f:
        f.write(data)


# ------------------------------------------------------------------------------------------ reading
def _parse(buffer, source: str):
    """Validate the header of ``buffer`` and return ``(entries, metadata, data_start)``."""
    size = len(buffer)
    if size < 8:
        raise SafetensorsError(f"{source}: truncated: {size} bytes, expected at least 8 for the header length")
    (n,) = struct.unpack("<Q", bytes(buffer[:8]))
    if n > _MAX_HEADER:
        raise SafetensorsError(f"{source}: header length {n} exceeds the limit of {_MAX_HEADER} bytes")
    if 8 + n > size:
        raise SafetensorsError(f"{source}: truncated header: it declares {n} bytes but only {size - 8} follow")
    try:
        header = json.loads(bytes(buffer[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SafetensorsError(f"{source}: header is not valid UTF-8 JSON ({exc})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{source}: header must be a JSON object, got {type(header).__name__}")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SafetensorsError(f"{source}: __metadata__ must map str to str, got {metadata!r}")
    entries, spans = {}, []
    for name, info in header.items():
        try:
            code, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise SafetensorsError(f"{source}: tensor {name!r}: expected dtype, shape and data_offsets "
                                   f"[begin, end], got {info!r}") from None
        if code not in DTYPES:
            raise SafetensorsError(f"{source}: tensor {name!r}: unsupported dtype {code!r} "
                                   f"(expected one of {sorted(DTYPES)})")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise SafetensorsError(f"{source}: tensor {name!r}: invalid shape {shape!r}")
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end):
            raise SafetensorsError(f"{source}: tensor {name!r}: invalid data_offsets {[begin, end]!r}")
        nbytes = int(np.prod(shape, dtype=np.int64)) * DTYPES[code].itemsize
        if end - begin != nbytes:
            raise SafetensorsError(f"{source}: tensor {name!r}: data_offsets span {end - begin} bytes, but "
                                   f"dtype {code} and shape {shape} need {nbytes}")
        entries[name] = (DTYPES[code], tuple(shape), begin, end)
        spans.append((begin, end, name))
    data_size = size - 8 - n
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise SafetensorsError(f"{source}: tensor {name!r} starts at byte {begin}, expected {position} "
                                   f"(data offsets must tile the buffer without gaps or overlaps)")
        position = end
    if position != data_size:
        kind = "truncated" if position > data_size else "trailing bytes"
        raise SafetensorsError(f"{source}: {kind}: the header describes {position} data bytes, the file holds "
                               f"{data_size}")
    return entries, metadata, 8 + n


def load(data: bytes, source: str = "<bytes>") -> dict:
    """Deserialize safetensors bytes to ``{name: ndarray}`` (native byte order, writable copies)."""
    entries, _, start = _parse(data, source)
    out = {}
    for name, (dtype, shape, begin, end) in entries.items():
        arr = np.frombuffer(data, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=start + begin)
        out[name] = arr.reshape(shape).astype(dtype.newbyteorder("="), copy=True)
    return out


def load_file(filename) -> dict:
    """Read ``{name: ndarray}`` from a safetensors file."""
    with open(filename, "rb") as f:
        data = f.read()
    return load(data, source=os.fspath(filename))


def read_metadata(filename) -> dict:
    """The ``__metadata__`` string map of a safetensors file (``{}`` when it has none)."""
    with open(filename, "rb") as f:
        data = f.read()
    return _parse(data, os.fspath(filename))[1]
