"""sg.gradcheck: passes on correct ops, names the worst mismatch on a wrong backward, directional mode."""
import numpy as np
import pytest

import slimgrad as sg
from slimgrad import Function, GradcheckError


class WrongSquare(Function):
    """x^2 with a deliberately wrong backward (3x instead of 2x)."""

    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, g):
        return g * 3 * self.a


class ForgetsSecondInput(Function):
    """a * b whose backward drops b's gradient (returns zeros)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        return g * self.b, np.zeros_like(self.b)


def x64(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_passes_on_correct_ops():
    assert sg.gradcheck(lambda a, b: (a * b).exp().sum(0) / (1 + b * b), [x64(3, 4), x64(4, seed=1)])
    assert sg.gradcheck(lambda a: a.softmax(-1), [x64(2, 5)])


def test_wrong_backward_raises_naming_the_worst_mismatch():
    with pytest.raises(GradcheckError, match=r"input 0: backward gives .*finite differences give .*abs error"):
        sg.gradcheck(lambda a: WrongSquare.apply(a), [x64(3)])


def test_the_reported_input_is_the_wrong_one():
    with pytest.raises(GradcheckError, match="input 1:"):
        sg.gradcheck(lambda a, b: ForgetsSecondInput.apply(a, b), [x64(3), x64(3, seed=1) + 3])


def test_raise_exception_false_returns_false():
    assert sg.gradcheck(lambda a: WrongSquare.apply(a), [x64(3)], raise_exception=False) is False


def test_directional_mode_on_large_inputs_catches_errors_cheaply():
    big = x64(50, 40)  # 2,000 elements > max_elementwise: checked along random directions
    calls = []

    def square(a):
        calls.append(1)
        return a * a
    assert sg.gradcheck(square, [big])
    assert len(calls) <= 1 + 2 * 8 + 1  # one backward pass, two evaluations per direction
    with pytest.raises(GradcheckError):
        sg.gradcheck(lambda a: WrongSquare.apply(a), [big])


def test_only_inputs_that_require_grad_are_checked_when_some_do():
    a = sg.tensor(x64(3), requires_grad=True)
    b = sg.tensor(x64(3, seed=1) + 3)  # its wrong gradient is not asked for
    assert sg.gradcheck(lambda p, q: ForgetsSecondInput.apply(p, q), [a, b])


def test_integer_inputs_are_passed_through_unchecked():
    index = np.array([0, 2, 2])
    assert sg.gradcheck(lambda a, i: a.gather(0, i), [x64(3), index])


def test_float32_output_for_float64_inputs_is_reported():
    with pytest.raises(GradcheckError, match="fn returned dtype float32 for float64 inputs"):
        sg.gradcheck(lambda a: a.float(), [x64(3)])


def test_an_output_that_records_no_graph_is_reported():
    """An op that forgets to record its graph must fail the check, not pass it vacuously."""
    with pytest.raises(sg.GradcheckError, match="does not require grad"):
        sg.gradcheck(lambda x: x.detach() * 2, [np.ones(3)])
    with pytest.raises(sg.GradcheckError, match="must return a Tensor, got tuple"):
        sg.gradcheck(lambda x: (x, x), [np.ones(3)])
