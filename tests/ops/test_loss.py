"""Losses against torch.nn.functional (outputs and gradients), gradchecked in float64, and their input checks."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import slimgrad as sg
import slimgrad.functional as F
from helpers import check_gradients, compare_with_torch

REDUCTIONS = ["none", "mean", "sum"]
reductions = st.sampled_from(REDUCTIONS)
shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)
seeds = st.integers(0, 2**31 - 1)


def _normal(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------- regression losses
REGRESSION = [
    ("mse_loss", lambda x, y, r: F.mse_loss(x, y, reduction=r), lambda x, y, r: TF.mse_loss(x, y, reduction=r)),
    ("l1_loss", lambda x, y, r: F.l1_loss(x, y, reduction=r), lambda x, y, r: TF.l1_loss(x, y, reduction=r)),
    ("mae_loss", lambda x, y, r: F.mae_loss(x, y, reduction=r), lambda x, y, r: TF.l1_loss(x, y, reduction=r)),
    ("huber_loss", lambda x, y, r: F.huber_loss(x, y, reduction=r),
     lambda x, y, r: TF.huber_loss(x, y, reduction=r)),
    ("huber_loss_delta", lambda x, y, r: F.huber_loss(x, y, reduction=r, delta=0.4),
     lambda x, y, r: TF.huber_loss(x, y, reduction=r, delta=0.4)),
]


@pytest.mark.parametrize("name,sg_fn,torch_fn", REGRESSION, ids=[r[0] for r in REGRESSION])
@given(shape=shapes, reduction=reductions, seed=seeds)
def test_regression_losses_match_torch(name, sg_fn, torch_fn, shape, reduction, seed):
    rng = np.random.default_rng(seed)
    x, y = _normal(rng, shape), _normal(rng, shape)
    compare_with_torch(lambda a, b: sg_fn(a, b, reduction), lambda a, b: torch_fn(a, b, reduction), [x, y])


def _torch_squared_loss(x, y, reduction):
    per_sample = ((x - y) ** 2).reshape(x.shape[0], -1).sum(1) if x.ndim > 1 else (x - y) ** 2
    return {"none": per_sample, "mean": per_sample.mean(), "sum": per_sample.sum()}[reduction]


@given(shape=shapes, reduction=reductions, seed=seeds)
def test_squared_loss_is_per_sample_sum_of_squares(shape, reduction, seed):
    rng = np.random.default_rng(seed)
    x, y = _normal(rng, shape), _normal(rng, shape)
    out = compare_with_torch(lambda a, b: F.squared_loss(a, b, reduction=reduction),
                             lambda a, b: _torch_squared_loss(a, b, reduction), [x, y])
    if reduction == "none":
        assert out.shape == (shape[0],)


@pytest.mark.parametrize("name,sg_fn,torch_fn", REGRESSION, ids=[r[0] for r in REGRESSION])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_gradcheck(name, sg_fn, torch_fn, reduction, rng):
    x, y = _normal(rng, (3, 4), np.float64), _normal(rng, (3, 4), np.float64)
    check_gradients(lambda a, b: sg_fn(a, b, reduction), [x, y])
    check_gradients(lambda a, b: F.squared_loss(a, b, reduction=reduction), [x, y])


# ----------------------------------------------------------------- binary losses
@given(shape=shapes, reduction=reductions, seed=seeds, weighted=st.booleans())
def test_binary_cross_entropy_matches_torch(shape, reduction, seed, weighted):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, shape).astype(np.float32)
    y = rng.uniform(0, 1, shape).astype(np.float32)
    w = rng.uniform(0.1, 2, shape[-1:]).astype(np.float32) if weighted else None
    tw = None if w is None else torch.tensor(w)
    compare_with_torch(lambda a, b: F.binary_cross_entropy(a, b, w, reduction=reduction),
                       lambda a, b: TF.binary_cross_entropy(a, b, tw, reduction=reduction), [p, y],
                       rtol=1e-5, atol=1e-5)


def test_binary_cross_entropy_clamps_log_like_torch():
    p = np.array([0.0, 1.0, 0.5, 1e-30], dtype=np.float32)
    y = np.array([1.0, 0.0, 1.0, 1.0], dtype=np.float32)
    out = F.binary_cross_entropy(sg.tensor(p), sg.tensor(y), reduction="none")
    ref = TF.binary_cross_entropy(torch.tensor(p), torch.tensor(y), reduction="none")
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-6)
    assert np.all(np.isfinite(out.data))


@given(shape=shapes, reduction=reductions, seed=seeds, weighted=st.booleans(), pos=st.booleans())
def test_binary_cross_entropy_with_logits_matches_torch(shape, reduction, seed, weighted, pos):
    rng = np.random.default_rng(seed)
    x = (_normal(rng, shape) * 3).astype(np.float32)
    y = rng.uniform(0, 1, shape).astype(np.float32)
    w = rng.uniform(0.1, 2, shape[-1:]).astype(np.float32) if weighted else None
    pw = rng.uniform(0.1, 3, shape[-1:]).astype(np.float32) if pos else None
    tw, tpw = (None if a is None else torch.tensor(a) for a in (w, pw))
    compare_with_torch(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, reduction=reduction, pos_weight=pw),
        lambda a, b: TF.binary_cross_entropy_with_logits(a, b, tw, reduction=reduction, pos_weight=tpw),
        [x, y], rtol=1e-5, atol=1e-5)


def test_binary_cross_entropy_with_logits_is_stable_for_huge_logits():
    x = sg.tensor(np.array([1e4, -1e4, 50.0, -50.0], dtype=np.float32), requires_grad=True)
    y = np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32)
    out = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(out.data, [1e4, 1e4, 0.0, 0.0], atol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0, -1.0, 0.0, 0.0], atol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_losses_gradcheck(reduction, rng):
    p = rng.uniform(0.1, 0.9, (3, 4))
    x, y = rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4))
    w, pw = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)
    check_gradients(lambda a, b: F.binary_cross_entropy(a, b, w, reduction=reduction), [p, y])
    check_gradients(lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, reduction=reduction, pos_weight=pw),
                    [x, y])


# ----------------------------------------------------------------- cross-entropy with class indices
@st.composite
def classification_cases(draw):
    """(logits shape, seed, weighted, ignore_index or None, label_smoothing, reduction)."""
    n, c = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    spatial = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    return ((n, c) + spatial, draw(seeds), draw(st.booleans()), draw(st.sampled_from([None, -100, 1])),
            draw(st.sampled_from([0.0, 0.1, 0.5])), draw(reductions))


def _index_targets(rng, shape, ignore_index):
    target = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    if ignore_index is not None:
        target[rng.uniform(size=target.shape) < 0.3] = ignore_index
        target.flat[0] = 0 if ignore_index != 0 else 1  # keep one position so 'mean' is defined
    return target


@given(case=classification_cases())
def test_cross_entropy_index_targets_match_torch(case):
    shape, seed, weighted, ignore, smoothing, reduction = case
    rng = np.random.default_rng(seed)
    x = (_normal(rng, shape) * 2).astype(np.float32)
    t = _index_targets(rng, shape, ignore)
    w = rng.uniform(0.2, 2, shape[1]).astype(np.float32) if weighted else None
    kw = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=-100 if ignore is None else ignore)
    tw = None if w is None else torch.tensor(w)
    compare_with_torch(lambda a, b: F.cross_entropy(a, b, w, **kw),
                       lambda a, b: TF.cross_entropy(a, b, tw, **kw), [x, t], rtol=1e-5, atol=1e-5)


@given(case=classification_cases())
def test_cross_entropy_probability_targets_match_torch(case):
    shape, seed, weighted, _, smoothing, reduction = case
    rng = np.random.default_rng(seed)
    x = (_normal(rng, shape) * 2).astype(np.float32)
    t = rng.uniform(0, 1, shape).astype(np.float32)
    t /= t.sum(axis=1, keepdims=True)
    w = rng.uniform(0.2, 2, shape[1]).astype(np.float32) if weighted else None
    tw = None if w is None else torch.tensor(w)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    compare_with_torch(lambda a, b: F.cross_entropy(a, b, w, **kw),
                       lambda a, b: TF.cross_entropy(a, b, tw, **kw), [x, t], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_unbatched_input(reduction, rng):
    x = _normal(rng, (5,))
    compare_with_torch(lambda a: F.cross_entropy(a, np.array(3), reduction=reduction),
                       lambda a: TF.cross_entropy(a, torch.tensor(3), reduction=reduction), [x])
    t = rng.uniform(0, 1, 5).astype(np.float32)
    compare_with_torch(lambda a, b: F.softmax_cross_entropy(a, b, reduction=reduction),
                       lambda a, b: TF.cross_entropy(a, b, reduction=reduction), [x, t])


def test_cross_entropy_all_ignored_mean_is_nan_like_torch():
    x = np.zeros((2, 3), dtype=np.float32)
    t = np.array([-100, -100])
    assert np.isnan(F.cross_entropy(sg.tensor(x), t).item())
    assert np.isnan(TF.cross_entropy(torch.tensor(x), torch.tensor(t)).item())


def test_cross_entropy_is_stable_for_huge_logits():
    x = sg.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=np.float32), requires_grad=True)
    loss = F.cross_entropy(x, np.array([1, 2]), reduction="none")
    np.testing.assert_allclose(loss.data, [2e4, 0.0], rtol=1e-6)
    loss.sum().backward()
    assert np.all(np.isfinite(x.grad.data))


@pytest.mark.parametrize("weighted,ignore,smoothing,reduction", [
    (False, False, 0.0, "mean"), (True, True, 0.2, "mean"), (True, False, 0.0, "none"), (False, True, 0.3, "sum"),
])
def test_cross_entropy_gradcheck(weighted, ignore, smoothing, reduction, rng):
    x = rng.standard_normal((4, 3, 2))
    t = rng.integers(0, 3, (4, 2))
    if ignore:
        t[1, 0] = -100
    w = rng.uniform(0.5, 2, 3) if weighted else None
    check_gradients(lambda a: F.cross_entropy(a, t, w, reduction=reduction, label_smoothing=smoothing), [x])
    probs = rng.uniform(0, 1, (4, 3, 2))
    check_gradients(lambda a, b: F.cross_entropy(a, b, w, reduction=reduction, label_smoothing=smoothing),
                    [x, probs])


def test_cross_entropy_keeps_float32():
    x = sg.tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    for kw in ({}, {"label_smoothing": 0.1}, {"weight": np.ones(3, dtype=np.float32)}):
        loss = F.cross_entropy(x, np.array([0, 1, 2, 0]), **kw)
        loss.backward()
        assert loss.dtype == np.float32 and x.grad.dtype == np.float32


# ----------------------------------------------------------------- NLL and categorical cross-entropy
@given(case=classification_cases())
def test_nll_loss_matches_torch(case):
    shape, seed, weighted, ignore, _, reduction = case
    rng = np.random.default_rng(seed)
    x = _normal(rng, shape)
    t = _index_targets(rng, shape, ignore)
    w = rng.uniform(0.2, 2, shape[1]).astype(np.float32) if weighted else None
    tw = None if w is None else torch.tensor(w)
    kw = dict(reduction=reduction, ignore_index=-100 if ignore is None else ignore)
    compare_with_torch(lambda a, b: F.nll_loss(a, b, w, **kw), lambda a, b: TF.nll_loss(a, b, tw, **kw), [x, t],
                       rtol=1e-5, atol=1e-5)


def _torch_categorical(p, t, reduction):
    if t.dtype == torch.int64:
        t = TF.one_hot(t, p.shape[1]).movedim(-1, 1).to(p.dtype)
    loss = -(t * torch.log(p).clamp(min=-100)).sum(1)
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


@given(case=classification_cases(), one_hot=st.booleans())
def test_categorical_cross_entropy_matches_torch(case, one_hot):
    shape, seed, _, _, _, reduction = case
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 1, shape).astype(np.float32)
    p /= p.sum(axis=1, keepdims=True)
    if one_hot:
        t = rng.uniform(0, 1, shape).astype(np.float32)
        t /= t.sum(axis=1, keepdims=True)
    else:
        t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    compare_with_torch(lambda a, b: F.categorical_cross_entropy(a, b, reduction=reduction),
                       lambda a, b: _torch_categorical(a, b, reduction), [p, t], rtol=1e-5, atol=1e-5)


def test_categorical_cross_entropy_equals_cross_entropy_of_softmax(rng):
    x = _normal(rng, (6, 4))
    t = rng.integers(0, 4, 6)
    probs = torch.softmax(torch.tensor(x), 1).numpy()
    np.testing.assert_allclose(F.categorical_cross_entropy(sg.tensor(probs), t).item(),
                               F.cross_entropy(sg.tensor(x), t).item(), rtol=1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_and_categorical_gradcheck(reduction, rng):
    x = rng.standard_normal((4, 3, 2))
    t = rng.integers(0, 3, (4, 2))
    t[0, 1] = -100
    w = rng.uniform(0.5, 2, 3)
    check_gradients(lambda a: F.nll_loss(a, t, w, reduction=reduction), [x])
    p = rng.uniform(0.1, 1, (4, 3))
    check_gradients(lambda a, b: F.categorical_cross_entropy(a, b, reduction=reduction),
                    [p, rng.uniform(0, 1, (4, 3))])


# ----------------------------------------------------------------- zero-one loss
@given(n=st.integers(1, 20), c=st.integers(2, 6), seed=seeds, reduction=reductions)
def test_zero_one_loss_counts_wrong_predictions(n, c, seed, reduction):
    from sklearn.metrics import zero_one_loss as sk_zero_one

    rng = np.random.default_rng(seed)
    scores = _normal(rng, (n, c))
    target = rng.integers(0, c, n)
    wrong = (scores.argmax(1) != target).astype(np.float32)
    out = F.zero_one_loss(sg.tensor(scores), target, reduction=reduction)
    expected = {"none": wrong, "mean": sk_zero_one(target, scores.argmax(1)),
                "sum": sk_zero_one(target, scores.argmax(1), normalize=False)}[reduction]
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)
    assert out.dtype == np.float32
    labels = F.zero_one_loss(sg.tensor(scores.argmax(1)), target, reduction=reduction)
    np.testing.assert_allclose(labels.data, expected, rtol=1e-6)
    onehot = np.eye(c, dtype=np.float32)[target]
    np.testing.assert_allclose(F.zero_one_loss(sg.tensor(scores), onehot, reduction=reduction).data, expected)


def test_zero_one_loss_refuses_ambiguous_binary_scores():
    """Scores of the target's shape (or a single score column) would be compared as labels: say so."""
    with pytest.raises(ValueError, match="non-integer values.*threshold binary scores"):
        F.zero_one_loss(sg.tensor([0.2, 0.9]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"single class column.*threshold"):
        F.zero_one_loss(sg.tensor([[0.2], [0.9]]), np.array([[0.0], [1.0]]))
    assert F.zero_one_loss(sg.tensor([0.0, 1.0, 1.0]), np.array([0, 1, 0])).item() == pytest.approx(1 / 3)


def test_zero_one_loss_refuses_gradients():
    x = sg.tensor(np.array([[1.0, 2.0], [3.0, 0.0]], dtype=np.float32), requires_grad=True)
    loss = F.zero_one_loss(x, np.array([1, 1]))
    assert loss.item() == 0.5
    with pytest.raises(RuntimeError, match="zero_one_loss is not differentiable"):
        loss.backward()


# ----------------------------------------------------------------- bad input
def test_bogus_reduction_names_the_allowed_values():
    x = sg.tensor(np.zeros((2, 3), dtype=np.float32))
    for fn, target in [(F.mse_loss, x), (F.cross_entropy, np.array([0, 1])), (F.zero_one_loss, np.array([0, 1])),
                       (F.nll_loss, np.array([0, 1])), (F.binary_cross_entropy_with_logits, x)]:
        with pytest.raises(ValueError, match=r"reduction must be one of 'none', 'mean', 'sum', got 'bogus'"):
            fn(x, target, reduction="bogus")


@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss, F.categorical_cross_entropy])
def test_out_of_range_class_index_names_value_and_n_classes(fn):
    x = sg.tensor(np.full((2, 3), 1 / 3, dtype=np.float32))
    with pytest.raises(IndexError, match=r"target value 3 is out of range for n_classes=3"):
        fn(x, np.array([0, 3]))
    with pytest.raises(IndexError, match=r"target value -1 is out of range for n_classes=3"):
        fn(x, np.array([-1, 0]))


def test_nan_targets_raise():
    x = sg.tensor(np.zeros((2, 3), dtype=np.float32))
    nan_t = np.array([[0.0, np.nan, 1.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    for fn in (F.mse_loss, F.l1_loss, F.huber_loss, F.binary_cross_entropy_with_logits, F.cross_entropy,
               F.squared_loss):
        with pytest.raises(ValueError, match="target contains NaN"):
            fn(x, nan_t)
    with pytest.raises(ValueError, match="target contains NaN"):
        F.cross_entropy(x, np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="target contains NaN"):
        F.zero_one_loss(x, np.array([0.0, np.nan]))


def test_shape_mismatch_names_both_shapes():
    x = sg.tensor(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"target shape \(3, 2\) must equal input shape \(2, 3\)"):
        F.mse_loss(x, np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"target shape \(3,\) does not match input shape \(2, 3\)"):
        F.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"target shape \(2, 4\) does not match input shape \(2, 3\)"):
        F.cross_entropy(x, np.zeros((2, 4), dtype=np.float32))


def test_float_target_where_indices_expected_raises_type_error():
    x = sg.tensor(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="expected class indices of an integer dtype.*float32"):
        F.cross_entropy(x, np.array([0.0, 1.0], dtype=np.float32))
    with pytest.raises(TypeError, match="expected class indices of an integer dtype"):
        F.nll_loss(x, np.zeros((2, 3), dtype=np.float32))


def test_other_bad_arguments():
    x = sg.tensor(np.full((2, 3), 0.5, dtype=np.float32))
    with pytest.raises(ValueError, match=r"weight must have shape \(n_classes,\) = \(3,\), got shape \(2,\)"):
        F.cross_entropy(x, np.array([0, 1]), np.ones(2, dtype=np.float32))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        F.cross_entropy(x, np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(x * 3, x)
    with pytest.raises(ValueError, match="delta must be positive"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(TypeError, match="expected a floating-point input"):
        F.cross_entropy(sg.tensor(np.zeros((2, 3), dtype=np.int64)), np.array([0, 1]))


@pytest.mark.parametrize("fn, label_smoothing", [("cross_entropy", 0.0), ("cross_entropy", 0.3), ("nll_loss", 0.0)])
@pytest.mark.parametrize("use_weight", [False, True])
def test_every_position_ignored_gives_nan_loss_and_zero_gradient_like_torch(fn, use_weight, label_smoothing):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    weight = rng.random(3).astype(np.float32) + 0.1 if use_weight else None
    target = np.array([-100, -100])
    kwargs = {"label_smoothing": label_smoothing} if label_smoothing else {}
    sx, tx = sg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    s_out = getattr(F, fn)(sx, sg.tensor(target), weight=None if weight is None else sg.tensor(weight), **kwargs)
    t_out = getattr(TF, fn)(tx, torch.tensor(target),
                                             weight=None if weight is None else torch.tensor(weight), **kwargs)
    s_out.backward()
    t_out.backward()
    assert np.isnan(s_out.item()) and np.isnan(t_out.item())
    np.testing.assert_array_equal(sx.grad.numpy(), tx.grad.numpy())
    assert not np.isnan(sx.grad.numpy()).any()


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_weight_matches_torch(reduction, dtype):
    """torch 2.13's mse/l1/huber take an elementwise ``weight``: mse/l1 'mean' divide by sum(weight), huber by N."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)
    w = rng.random((3, 4)).astype(dtype)
    for sg_fn, torch_fn in [
        (lambda a, b: F.mse_loss(a, b, reduction=reduction, weight=sg.tensor(w)),
         lambda a, b: TF.mse_loss(a, b, reduction=reduction, weight=torch.tensor(w))),
        (lambda a, b: F.l1_loss(a, b, reduction=reduction, weight=sg.tensor(w)),
         lambda a, b: TF.l1_loss(a, b, reduction=reduction, weight=torch.tensor(w))),
        (lambda a, b: F.huber_loss(a, b, reduction, 0.7, sg.tensor(w)),  # positional, as torch allows
         lambda a, b: TF.huber_loss(a, b, reduction, 0.7, torch.tensor(w))),
    ]:
        compare_with_torch(sg_fn, torch_fn, [x, y])
    with pytest.raises(ValueError, match=r"mse_loss: weight must have the input's shape \(3, 4\), got shape \(4,\)"):
        F.mse_loss(sg.tensor(x), sg.tensor(y), weight=w[0])


def test_cross_entropy_float64_probability_target_that_requires_grad_keeps_float32_and_its_gradient():
    rng = np.random.default_rng(6)
    x = sg.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    t = sg.tensor(rng.dirichlet(np.ones(4), 3), requires_grad=True)  # float64
    loss = F.cross_entropy(x, t)
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32 and t.grad.dtype == np.float64
    tt = torch.tensor(t.detach().numpy(), requires_grad=True)
    TF.cross_entropy(torch.tensor(x.detach().numpy()).double(), tt).backward()
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-5)
