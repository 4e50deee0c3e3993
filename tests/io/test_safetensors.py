"""Our safetensors reader/writer: round trips, interop with the reference ``safetensors`` package in both
directions, and clear errors on malformed files."""
import json
import struct

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from slimgrad.io import safetensors as sgst

ref = pytest.importorskip("safetensors.numpy")
from safetensors import safe_open  # noqa: E402

DTYPES = ["float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
          "uint64", "bool"]

shapes = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)


@st.composite
def tensor_dicts(draw):
    names = draw(st.lists(st.text("abcxyz._0123456789", min_size=1, max_size=8), min_size=0, max_size=5,
                          unique=True))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    out = {}
    for name in names:
        dtype = np.dtype(draw(st.sampled_from(DTYPES)))
        shape = draw(shapes)
        if dtype.kind == "f":
            arr = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            arr = rng.integers(0, 2, shape).astype(bool)
        else:
            info = np.iinfo(dtype)
            arr = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
        out[name] = arr
    return out


metadata_maps = st.one_of(st.none(), st.dictionaries(st.text(max_size=6), st.text(max_size=12), max_size=3))


def _assert_same(a: dict, b: dict):
    assert set(a) == set(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k])


@given(tensors=tensor_dicts(), metadata=metadata_maps)
def test_round_trip(tensors, metadata):
    _assert_same(sgst.load(sgst.save(tensors, metadata)), tensors)


@given(tensors=tensor_dicts(), metadata=metadata_maps)
def test_reference_reads_ours(tmp_path_factory, tensors, metadata):
    path = tmp_path_factory.mktemp("st") / "ours.safetensors"
    sgst.save_file(tensors, path, metadata)
    _assert_same(ref.load_file(str(path)), tensors)
    with safe_open(str(path), framework="np") as f:
        assert (f.metadata() or {}) == (metadata or {})


@given(tensors=tensor_dicts(), metadata=metadata_maps)
def test_we_read_reference(tmp_path_factory, tensors, metadata):
    # safetensors 0.8 itself writes invalid JSON ('{},"__metadata__":{}}') for no tensors + empty metadata
    assume(tensors or metadata != {})
    path = tmp_path_factory.mktemp("st") / "ref.safetensors"
    ref.save_file(tensors, str(path), metadata=metadata)
    _assert_same(sgst.load_file(path), tensors)
    assert sgst.read_metadata(path) == (metadata or {})


def test_non_contiguous_and_big_endian_inputs():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    tensors = {"t": base.T, "s": base[:, ::2], "be": base.astype(">f8")}
    loaded = ref.load(sgst.save(tensors))
    np.testing.assert_array_equal(loaded["t"], base.T)
    np.testing.assert_array_equal(loaded["s"], base[:, ::2])
    assert loaded["be"].dtype == np.float64
    np.testing.assert_array_equal(loaded["be"], base.astype(np.float64))


def test_data_is_aligned_and_header_padded():
    data = sgst.save({"a": np.ones(3, np.int8), "b": np.ones(2, np.float64), "c": np.ones(1, np.float32)})
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0
    header = json.loads(data[8:8 + n])
    for info in header.values():
        itemsize = {"I8": 1, "F64": 8, "F32": 4}[info["dtype"]]
        assert info["data_offsets"][0] % itemsize == 0


def test_loaded_arrays_are_writable_copies():
    data = sgst.save({"a": np.zeros(3, np.float32)})
    arr = sgst.load(data)["a"]
    arr[0] = 1.0
    assert sgst.load(data)["a"][0] == 0.0


# ------------------------------------------------------------------------------------------ errors
def _file(tmp_path, data: bytes):
    path = tmp_path / "x.safetensors"
    path.write_bytes(data)
    return path


def _with_header(header: dict, body: bytes = b"") -> bytes:
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + body


GOOD = sgst.save({"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(2, np.float64)})


@pytest.mark.parametrize("cut", [0, 3, 7, 8, 20, len(GOOD) - 1])
def test_truncated_file_names_file_and_problem(tmp_path, cut):
    path = _file(tmp_path, GOOD[:cut])
    with pytest.raises(sgst.SafetensorsError, match="truncated") as info:
        sgst.load_file(path)
    assert str(path) in str(info.value)


def test_every_truncation_is_detected():
    for cut in range(len(GOOD)):
        with pytest.raises(sgst.SafetensorsError):
            sgst.load(GOOD[:cut])


def test_trailing_bytes():
    with pytest.raises(sgst.SafetensorsError, match="trailing"):
        sgst.load(GOOD + b"\0" * 4)


def test_bad_json():
    with pytest.raises(sgst.SafetensorsError, match="JSON"):
        sgst.load(struct.pack("<Q", 5) + b"{nope")


def test_huge_header_length():
    with pytest.raises(sgst.SafetensorsError, match="header length"):
        sgst.load(struct.pack("<Q", 2**40) + b"{}")


@pytest.mark.parametrize("header, body, match", [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, "need 8"),
    ({"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8, "unsupported dtype"),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "invalid shape"),
    ({"a": {"dtype": "F32", "shape": [1]}}, b"\0" * 4, "data_offsets"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8, "starts at byte 4"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
      "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "starts at byte 0"),
    ({"__metadata__": {"k": 1}}, b"", "__metadata__"),
    ([1, 2], b"", "JSON object"),
])
def test_malformed_headers(header, body, match):
    with pytest.raises(sgst.SafetensorsError, match=match):
        sgst.load(_with_header(header, body))


def test_save_rejects_what_it_cannot_store():
    with pytest.raises(sgst.SafetensorsError, match="complex"):
        sgst.save({"z": np.zeros(2, np.complex64)})
    with pytest.raises(sgst.SafetensorsError, match="reserved"):
        sgst.save({"__metadata__": np.zeros(1)})
    with pytest.raises(sgst.SafetensorsError, match="metadata must map str to str"):
        sgst.save({"a": np.zeros(1)}, metadata={"k": 1})
