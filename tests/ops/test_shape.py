"""Shape and indexing ops against PyTorch (outputs and gradients) over hypothesis shapes, and gradcheck."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, strategies as st

import slimgrad as sg
import slimgrad.functional as F
from helpers import compare_with_torch
from op_cases import Case, check_case, normal, shape_st


def configured(name, make_config, sg_op, torch_op, min_dims=0, **kw):
    """A case whose config (dims, sizes...) is drawn from the input shape by ``make_config(draw, shape)``."""
    config = {}

    def make(draw, rng):
        shape = draw(shape_st(min_dims=min_dims))
        config.update(make_config(draw, shape))
        return [normal(rng, shape)]
    return Case(name, lambda x: sg_op(x, **config), lambda x: torch_op(x, **config), make, **kw)


def dim_of(draw, shape, extra=0):
    n = len(shape) + extra
    return draw(st.integers(-n, n - 1)) if n else 0


def reshape_config(draw, shape):
    target = list(shape)
    if target:
        draw(st.randoms()).shuffle(target)
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return {"shape": tuple(target) + (1,) * draw(st.integers(0, 1))}


def expand_config(draw, shape):
    sizes = [draw(st.integers(1, 3)) if s == 1 else (s if draw(st.booleans()) else -1) for s in shape]
    return {"sizes": tuple(draw(st.lists(st.integers(1, 3), max_size=2))) + tuple(sizes)}


def pad_config(mode):
    def config(draw, shape):
        if mode == "constant":
            n = draw(st.integers(1, min(len(shape), 3)))
        else:  # torch pads the last n dims of an input with n + 1 or n + 2 dims (we allow any n)
            n = draw(st.sampled_from([k for k in (len(shape) - 1, len(shape) - 2) if 1 <= k <= 3]))
        pad = []
        for side in reversed(shape[-n:]):
            if mode == "constant":
                lo, hi = draw(st.integers(-side + 1, 3)), draw(st.integers(0, 3))
            else:
                limit = side - 1 if mode == "reflect" else (3 if mode == "replicate" else side)
                lo, hi = draw(st.integers(0, limit)), draw(st.integers(0, limit))
            pad += [lo, hi]
        return {"pad": tuple(pad), "mode": mode}
    return config


def index_config(draw, shape):
    """A mix of ints, slices (with steps), None, Ellipsis and integer arrays with repeats (torch has no
    negative steps: those are tested against NumPy below)."""
    index = []
    for side in shape:
        kind = draw(st.sampled_from(["int", "slice", "array", "all"]))
        if kind == "int":
            index.append(draw(st.integers(-side, side - 1)))
        elif kind == "slice":
            index.append(slice(draw(st.integers(-side, side)), draw(st.none() | st.integers(-side, side)),
                               draw(st.sampled_from([1, 2]))))
        elif kind == "array":
            index.append(np.array(draw(st.lists(st.integers(0, side - 1), min_size=1, max_size=4))))
        else:
            index.append(slice(None))
    arrays = [i for i, x in enumerate(index) if isinstance(x, np.ndarray)]
    for i in arrays[1:]:  # advanced indices must broadcast together: give them all the first one's length
        index[i] = np.resize(index[i], index[arrays[0]].shape)
    if draw(st.booleans()):
        index.insert(draw(st.integers(0, len(index))), None)
    if index and draw(st.booleans()):
        index[0] = Ellipsis
    return {"index": tuple(index)}


def getitem(x, index):
    if isinstance(x, torch.Tensor):
        index = tuple(torch.as_tensor(i) if isinstance(i, np.ndarray) else i for i in index)
    return x[index]


CASES = [
    configured("reshape", reshape_config, lambda x, shape: x.reshape(shape), lambda x, shape: x.reshape(shape)),
    configured("view", reshape_config, lambda x, shape: x.view(shape), lambda x, shape: x.view(shape)),
    configured("flatten", lambda d, s: {"start_dim": dim_of(d, s), "end_dim": -1}, F.flatten, torch.flatten),
    configured("flatten_range", lambda d, s: {"start_dim": 0, "end_dim": dim_of(d, s)}, F.flatten, torch.flatten,
               min_dims=1),
    configured("squeeze_all", lambda d, s: {}, F.squeeze, torch.squeeze),
    configured("squeeze_dim", lambda d, s: {"dim": dim_of(d, s)}, F.squeeze, torch.squeeze),
    configured("unsqueeze", lambda d, s: {"dim": dim_of(d, s, extra=1)}, F.unsqueeze, torch.unsqueeze),
    configured("permute", lambda d, s: {"dims": tuple(d(st.permutations(range(len(s)))))},
               lambda x, dims: x.permute(dims), lambda x, dims: x.permute(dims)),
    configured("transpose", lambda d, s: {"dim0": dim_of(d, s), "dim1": dim_of(d, s)}, F.transpose,
               torch.transpose, min_dims=1),
    configured("mT", lambda d, s: {}, lambda x: x.mT, lambda x: x.mT, min_dims=2),
    Case("T_2d", lambda x: x.T * 1.0, lambda x: x.T * 1.0, lambda d, rng: [normal(rng, d(shape_st(2, 2)))]),
    Case("t", lambda x: x.t() * 1.0, lambda x: x.t() * 1.0, lambda d, rng: [normal(rng, d(shape_st(0, 2)))]),
    configured("expand", expand_config, lambda x, sizes: x.expand(sizes), lambda x, sizes: x.expand(sizes)),
    configured("broadcast_to", lambda d, s: {"size": tuple(2 if n == 1 else n for n in s)},
               lambda x, size: x.broadcast_to(size), lambda x, size: x.broadcast_to(size)),
    configured("pad_constant", pad_config("constant"), lambda x, pad, mode: F.pad(x, pad, mode, value=0.5),
               lambda x, pad, mode: TF.pad(x, pad, mode, value=0.5), min_dims=1),
    configured("pad_reflect", pad_config("reflect"), F.pad, TF.pad, min_dims=2),
    configured("pad_replicate", pad_config("replicate"), F.pad, TF.pad, min_dims=2),
    configured("pad_circular", pad_config("circular"), F.pad, TF.pad, min_dims=2),
    configured("getitem", index_config, getitem, getitem, min_dims=1),
    configured("narrow", lambda d, s: {"dim": 0, "start": d(st.integers(0, s[0] - 1)), "length": 1},
               lambda x, **k: x.narrow(**k), lambda x, **k: x.narrow(**k), min_dims=1),
    configured("chunk", lambda d, s: {"chunks": d(st.integers(1, 4)), "dim": dim_of(d, s)},
               lambda x, **k: F.stack([c.sum() for c in x.chunk(**k)]),
               lambda x, **k: torch.stack([c.sum() for c in x.chunk(**k)]), min_dims=1, atol=1e-5),
    configured("split", lambda d, s: {"split_size": d(st.integers(1, 3)), "dim": dim_of(d, s)},
               lambda x, split_size, dim: F.stack([c.sum() for c in x.split(split_size, dim)]),
               lambda x, split_size, dim: torch.stack([c.sum() for c in x.split(split_size, dim)]), min_dims=1,
               atol=1e-5),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
@given(data=st.data())
def test_matches_torch_and_gradcheck(case, data):
    check_case(case, data)


@st.composite
def cat_inputs(draw, rng_seed=st.integers(0, 1000)):
    shape = draw(shape_st(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(draw(rng_seed))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    arrays = []
    for n in sizes:
        s = list(shape)
        s[dim] = n
        arrays.append(normal(rng, tuple(s)))
    return arrays, dim


@given(inputs=cat_inputs())
def test_cat_matches_torch(inputs):
    from helpers import check_gradients, compare_with_torch
    arrays, dim = inputs
    compare_with_torch(lambda *xs: F.cat(list(xs), dim), lambda *xs: torch.cat(list(xs), dim), arrays)
    check_gradients(lambda *xs: F.cat(list(xs), dim), arrays)


@given(shape=shape_st(), n=st.integers(1, 3), data=st.data())
def test_stack_matches_torch(shape, n, data):
    from helpers import check_gradients, compare_with_torch
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    rng = np.random.default_rng(n)
    arrays = [normal(rng, shape) for _ in range(n)]
    compare_with_torch(lambda *xs: F.stack(xs, dim), lambda *xs: torch.stack(xs, dim), arrays)
    check_gradients(lambda *xs: F.stack(xs, dim), arrays)


@given(shape=shape_st(min_dims=1), seed=st.integers(0, 1000), data=st.data())
def test_gather_matches_torch_with_repeated_indices(shape, seed, data):
    from helpers import check_gradients, compare_with_torch
    rng = np.random.default_rng(seed)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    index_shape = tuple(data.draw(st.integers(1, s)) if i != dim % len(shape) else data.draw(st.integers(1, 5))
                        for i, s in enumerate(shape))
    index = rng.integers(0, shape[dim], index_shape)
    x = normal(rng, shape)
    compare_with_torch(lambda t, i: t.gather(dim, i), lambda t, i: t.gather(dim, i), [x, index])
    check_gradients(lambda t, i: t.gather(dim, i), [x, index])


def test_boolean_mask_and_tensor_indices_match_torch():
    from helpers import check_gradients, compare_with_torch
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    mask = x > 0
    compare_with_torch(lambda t: t[t.detach() > 0], lambda t: t[t.detach() > 0], [x])
    compare_with_torch(lambda t: t[sg.tensor(np.array([0, 0, 3]))], lambda t: t[torch.tensor([0, 0, 3])], [x])
    compare_with_torch(lambda t: t[[1, 1], :2], lambda t: t[[1, 1], :2], [x])
    compare_with_torch(lambda t: t[..., None, 1], lambda t: t[..., None, 1], [x])
    check_gradients(lambda t: t[mask], [x])
    check_gradients(lambda t: t[np.array([0, 0, 3])], [x])


def test_negative_step_slices_match_numpy_and_gradcheck():
    from helpers import check_gradients
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(sg.tensor(x)[::-1, 3:0:-2].data, x[::-1, 3:0:-2])
    check_gradients(lambda t: t[::-1, 3:0:-2] * t[:, :2], [x])


def test_integer_scalars_index_before_arrays_as_in_torch():
    from helpers import compare_with_torch
    x = np.random.default_rng(2).standard_normal((2, 3, 4)).astype(np.float32)
    for sg_index, torch_index in [((0, slice(None), [0, 1]), (0, slice(None), [0, 1])),
                                  ((0, None, [0, 0]), (0, None, [0, 0])),
                                  ((slice(1, None), 0, np.array([[0, 1]])), (slice(1, None), 0, [[0, 1]])),
                                  ((Ellipsis, 1, [2, 2]), (Ellipsis, 1, [2, 2]))]:
        compare_with_torch(lambda t: t[sg_index], lambda t: t[torch_index], [x])


def test_masked_fill_matches_torch():
    from helpers import compare_with_torch
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    mask = x > 0.5
    compare_with_torch(lambda t: t.masked_fill(mask, -1.0), lambda t: t.masked_fill(torch.tensor(mask), -1.0), [x])


def test_setitem_outside_the_graph_only():
    x = sg.tensor([1.0, 2.0, 3.0])
    x[1] = 5.0
    np.testing.assert_array_equal(x.data, [1.0, 5.0, 3.0])
    w = sg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place assignment into a tensor that requires grad"):
        w[0] = 0.0
    with sg.no_grad():
        w[0] = 0.0
    assert w.data[0] == 0.0


def test_bad_shape_arguments_raise_clear_errors():
    x = sg.tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"reshape: shape \(4, 2\) is invalid for input of shape \(2, 3\) \(6 elements\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"permute: expected 2 dims for input of shape \(2, 3\), got \(0,\)"):
        x.permute(0)
    with pytest.raises(IndexError, match=r"transpose: dim 2 is out of range .* \[-2, 1\]"):
        x.transpose(0, 2)
    with pytest.raises(ValueError, match=r"expand: the expanded size 4 must match the existing size 3 at dim 1"):
        x.expand(2, 4)
    with pytest.raises(ValueError, match=r"cat: sizes must match except in dim 0: tensor 0 has shape \(2, 3\), "
                                         r"tensor 1 has shape \(2, 4\)"):
        F.cat([x, sg.tensor(np.zeros((2, 4)))])
    with pytest.raises(ValueError, match=r"stack: expects each tensor to be equal size, but got \(2, 3\) at entry 0 "
                                         r"and \(3,\) at entry 1"):
        F.stack([x, sg.tensor(np.zeros(3))])
    with pytest.raises(IndexError, match=r"getitem: .*shape \(2, 3\).*out of bounds"):
        x[5]
    with pytest.raises(IndexError, match="gather: index values must be in \\[0, 2\\] for dim 1 of size 3, got min 0 and max 3"):
        x.gather(1, sg.tensor(np.array([[0, 3]])))


def test_bad_pad_arguments_raise_clear_errors():
    x = sg.tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"pad: expected an even number of widths, at most 2 \* input.ndim = 4, got 3 \(\(1, 1, 1\)\)"):
        F.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match=r"pad: expected an even number.*got 6"):
        F.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match=r"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got 'mirror'"):
        F.pad(x, (1, 1), mode="mirror")
    with pytest.raises(ValueError, match=r"pad: reflect padding widths must be at most 2 for dim 1 of size 3, got \(3, 0\)"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match=r"pad: widths \(-4, 0\) crop more than the size 3 of dim 1"):
        F.pad(x, (-4, 0))
    with pytest.raises(TypeError, match=r"pad: expected a tuple of ints, got \(1.5, 1\)"):
        F.pad(x, (1.5, 1))


# ----------------------------------------------------------------- PyTorch methods composed from the ops
@pytest.mark.parametrize("name, sg_fn, torch_fn", [
    ("repeat", lambda a: a.repeat(2, 1, 3), lambda a: a.repeat(2, 1, 3)),
    ("repeat_new_dim", lambda a: a.repeat((2, 2, 1, 3)), lambda a: a.repeat((2, 2, 1, 3))),
    ("flip", lambda a: a.flip(0, 2), lambda a: a.flip(0, 2)),
    ("flip_tuple", lambda a: a.flip((-1,)), lambda a: a.flip((-1,))),
    ("index_select", lambda a: a.index_select(1, sg.tensor(np.array([2, 0, 2]))),
     lambda a: a.index_select(1, torch.tensor([2, 0, 2]))),
    ("unbind", lambda a: a.unbind(1)[2], lambda a: a.unbind(1)[2]),
    ("bmm", lambda a: a.bmm(a.transpose(1, 2)), lambda a: a.bmm(a.transpose(1, 2))),
    ("mm", lambda a: a[0].mm(a[1].T), lambda a: a[0].mm(a[1].T)),
    ("clamp_min", lambda a: a.clamp_min(0.1), lambda a: a.clamp_min(0.1)),
    ("clamp_max", lambda a: a.clamp_max(0.1), lambda a: a.clamp_max(0.1)),
])
def test_composed_tensor_methods_match_torch(name, sg_fn, torch_fn):
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    compare_with_torch(sg_fn, torch_fn, [x])


@pytest.mark.parametrize("expr", ["a.all()", "(a > 0).any(1)", "(a > 0).all(dim=-1, keepdim=True)", "a.isnan()",
                                  "a.isfinite()", "a.new_zeros(2, 3)", "a.new_ones((2,))"])
def test_boolean_and_new_tensor_methods_match_torch(expr):
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    s, t = eval(expr, {"a": sg.tensor(x)}), eval(expr, {"a": torch.tensor(x)})
    assert s.shape == tuple(t.shape) and str(s.dtype) == str(t.dtype).replace("torch.", "")
    np.testing.assert_array_equal(s.numpy(), t.numpy())


def test_mm_and_bmm_check_their_dimensions():
    x = sg.zeros(2, 3, 4)
    with pytest.raises(ValueError, match=r"mm: expected two 2-d tensors, got shapes \(2, 3, 4\)"):
        x.mm(x)
    with pytest.raises(ValueError, match=r"repeat: number of repeats 1 can't be smaller"):
        x.repeat(2)


@pytest.mark.parametrize("indices, num_classes", [([0, 2, 1], -1), ([[0, 1], [3, 2]], 5), ([1], 3)])
def test_one_hot_matches_torch(indices, num_classes):
    ours = F.one_hot(sg.tensor(np.array(indices)), num_classes)
    theirs = TF.one_hot(torch.tensor(indices), num_classes)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(ValueError, match=r"one_hot: class values must be in \[0, 1\] for num_classes=2, got .*\[3, 3\]"):
        F.one_hot(sg.tensor([3]), 2)
    with pytest.raises(TypeError, match="one_hot: expected an integer tensor"):
        F.one_hot(sg.tensor([1.0]))
