"""Checkpoints that survive a crash at any moment and resume a run exactly. Never pickle.

A checkpoint is a directory::

    model-000007.safetensors       model parameters and buffers (``model.state_dict()``)
    optimizer-000007.safetensors   every array found in the optimizer / scheduler / trainer state
    state.json                     everything else: optimizer param_groups and scalars, scheduler state,
                                   RNG states, loader position, epoch/step, history, the names of the two
                                   files above with their SHA-256, and a format version

The number is a save counter, so a new save never overwrites a file the current ``state.json`` names.
Saving writes each file to a temporary name in the same directory, flushes and fsyncs it, renames it into
place (``os.replace``) and fsyncs the directory; ``state.json``, which names the files, is swapped in
last, and only then are the previous files removed. A crash at any point leaves either the previous or
the new checkpoint loadable, never a mix.

Nested state (dicts with int keys, tuples, NumPy arrays and scalars) is encoded to JSON with arrays moved
to the safetensors file: ``{"__array__": key}``, ``{"__scalar__": key}`` (a NumPy scalar keeps its dtype),
``{"__tuple__": [...]}`` and ``{"__dict__": [[key, value], ...]}`` for dicts whose keys are not all str.
"""
from __future__ import annotations

import hashlib
import json
import os
import re

import numpy as np

from ..autograd import Tensor
from ..io import safetensors

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "read_state", "atomic_write", "encode_state",
           "decode_state", "FORMAT", "VERSION"]

FORMAT = "slimgrad-checkpoint"
VERSION = 1
STATE_FILE = "state.json"
_TMP_PREFIX = ".tmp-"
_DATA_FILE = re.compile(r"^(model|optimizer)-(\d+)\.safetensors$")


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, truncated, or does not match the model/optimizer it is loaded into."""


# ------------------------------------------------------------------------------------- atomic write
def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old content or the new one, never a mix.

    Temp file in the same directory -> write, flush, fsync -> ``os.replace`` -> fsync the directory.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f"{_TMP_PREFIX}{os.getpid()}-{os.path.basename(path)}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


# ------------------------------------------------------------------------------------- state codec
def encode_state(obj, arrays: dict, prefix: str):
    """JSON-ready copy of ``obj`` with every array moved into ``arrays`` under a dotted key."""
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, np.ndarray):
        arrays[prefix] = obj
        return {"__array__": prefix}
    if isinstance(obj, np.generic):
        arrays[prefix] = np.asarray(obj)
        return {"__scalar__": prefix}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_state(v, arrays, f"{prefix}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode_state(v, arrays, f"{prefix}.{i}") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode_state(v, arrays, f"{prefix}.{k}") for k, v in obj.items()}
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise CheckpointError(f"checkpoint: cannot store dict key {k!r} of type {type(k).__name__} "
                                      f"(at {prefix})")
            items.append([k.item() if isinstance(k, np.generic) else k, encode_state(v, arrays, f"{prefix}.{k}")])
        return {"__dict__": items}
    raise CheckpointError(f"checkpoint: cannot store a value of type {type(obj).__name__} at {prefix} "
                          f"(expected arrays, numbers, strings, None, lists, tuples or dicts)")


def decode_state(obj, arrays: dict, source: str):
    """Inverse of :func:`encode_state`: arrays are taken from ``arrays``."""
    if isinstance(obj, list):
        return [decode_state(v, arrays, source) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1:
        (tag, value), = obj.items()
        if tag in ("__array__", "__scalar__"):
            if value not in arrays:
                raise CheckpointError(f"{source}: state.json refers to array {value!r}, which is missing")
            arr = arrays[value]
            return arr[()] if tag == "__scalar__" else arr
        if tag == "__tuple__":
            return tuple(decode_state(v, arrays, source) for v in value)
        if tag == "__dict__":
            return {k: decode_state(v, arrays, source) for k, v in value}
    return {k: decode_state(v, arrays, source) for k, v in obj.items()}


# ------------------------------------------------------------------------------------- save / load
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_json(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint here (state.json is missing)") from None
    try:
        state = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated JSON ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a slimgrad checkpoint (expected format {FORMAT!r})")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {state.get('version')!r}, this slimgrad "
                              f"reads version {VERSION}")
    return state


def read_state(directory) -> dict:
    """The validated ``state.json`` of a checkpoint, without loading its arrays (e.g. to read the run's
    configuration before building the model it belongs to)."""
    return _read_json(os.path.join(os.fspath(directory), STATE_FILE))


def save_checkpoint(directory, model=None, optimizer=None, scheduler=None, extra: dict | None = None) -> dict:
    """Atomically write a checkpoint of ``model``, ``optimizer``, ``scheduler`` and ``extra`` (any nested
    state: RNG, loader position, epoch/step, history, ...) to ``directory``. Returns the written state.json dict.
    """
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    state_path = os.path.join(directory, STATE_FILE)
    serial = 1
    if os.path.exists(state_path):
        try:
            serial = int(_read_json(state_path).get("serial", 0)) + 1
        except CheckpointError:
            serial = 1
    for name in os.listdir(directory):  # a larger number left by a crashed save must not be reused
        m = _DATA_FILE.match(name)
        if m:
            serial = max(serial, int(m.group(2)) + 1)

    model_arrays = {k: v.data if isinstance(v, Tensor) else np.asarray(v)
                    for k, v in (model.state_dict().items() if model is not None else ())}
    other_arrays: dict = {}
    payload = {
        "optimizer": encode_state(optimizer.state_dict(), other_arrays, "optimizer") if optimizer else None,
        "scheduler": encode_state(scheduler.state_dict(), other_arrays, "scheduler") if scheduler else None,
        "extra": encode_state(extra or {}, other_arrays, "extra"),
    }
    files = {}
    for kind, arrays in (("model", model_arrays), ("optimizer", other_arrays)):
        data = safetensors.save(arrays, metadata={"format": FORMAT, "kind": kind})
        name = f"{kind}-{serial:06d}.safetensors"
        atomic_write(os.path.join(directory, name), data)
        files[kind] = {"name": name, "sha256": _sha256(data), "bytes": len(data)}
    state = {"format": FORMAT, "version": VERSION, "serial": serial, "files": files, **payload}
    atomic_write(state_path, json.dumps(state, indent=1).encode("utf-8"))
    keep = {f["name"] for f in files.values()} | {STATE_FILE}
    for name in os.listdir(directory):  # only now is the previous checkpoint unreferenced
        if name not in keep and (_DATA_FILE.match(name) or name.startswith(_TMP_PREFIX)):
            try:
                os.remove(os.path.join(directory, name))
            except FileNotFoundError:  # pragma: no cover
                pass
    return state


def _load_file(directory: str, state: dict, kind: str) -> dict:
    info = state.get("files", {}).get(kind)
    if not isinstance(info, dict) or "name" not in info or "sha256" not in info:
        raise CheckpointError(f"{os.path.join(directory, STATE_FILE)}: no entry for the {kind} file")
    path = os.path.join(directory, info["name"])
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file named by state.json is missing") from None
    if _sha256(data) != info["sha256"]:
        raise CheckpointError(f"{path}: checksum mismatch ({len(data)} bytes, state.json expects "
                              f"{info.get('bytes', '?')} bytes with sha256 {info['sha256'][:12]}...): "
                              f"the file is corrupt or truncated")
    try:
        return safetensors.load(data, source=path)
    except safetensors.SafetensorsError as exc:
        raise CheckpointError(str(exc)) from None


def load_checkpoint(directory, model=None, optimizer=None, scheduler=None) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model``/``optimizer``/``scheduler``
    (each optional) and return its ``extra`` state. Raises :class:`CheckpointError` naming the file and
    the problem for missing, corrupt, truncated or mismatched checkpoints.
    """
    directory = os.fspath(directory)
    state_path = os.path.join(directory, STATE_FILE)
    state = _read_json(state_path)
    model_arrays = _load_file(directory, state, "model")
    other_arrays = _load_file(directory, state, "optimizer")
    model_file = os.path.join(directory, state["files"]["model"]["name"])
    if model is not None:
        own = model.state_dict()
        missing = [k for k in own if k not in model_arrays]
        unexpected = [k for k in model_arrays if k not in own]
        if missing or unexpected:
            raise CheckpointError(f"{model_file}: does not match {type(model).__name__}: missing keys "
                                  f"{missing}, unexpected keys {unexpected}")
        for k, v in own.items():
            if np.shape(v) != model_arrays[k].shape:
                raise CheckpointError(f"{model_file}: {k!r} has shape {model_arrays[k].shape}, "
                                      f"{type(model).__name__} expects {np.shape(v)}")
        model.load_state_dict(model_arrays)
    for obj, key in ((optimizer, "optimizer"), (scheduler, "scheduler")):
        if obj is None:
            continue
        if state.get(key) is None:
            raise CheckpointError(f"{state_path}: the checkpoint holds no {key} state")
        try:
            obj.load_state_dict(decode_state(state[key], other_arrays, state_path))
        except CheckpointError:
            raise
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise CheckpointError(f"{state_path}: {key} state does not match {type(obj).__name__}: {exc}") from exc
    return decode_state(state.get("extra") or {}, other_arrays, state_path)
