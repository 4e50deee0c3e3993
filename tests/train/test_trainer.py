"""The training loop: learning, eval switching, early stopping, NaN detection, history files, in-process
exact resume, evaluate/predict."""
import io
import json

import numpy as np
import pytest

import slimgrad as sg
import slimgrad.functional as F
from slimgrad import optim
from slimgrad.train import (Callback, EarlyStopping, History, LambdaCallback, NonFiniteLossError, Reporter,
                            evaluate, fit, predict)
from train.train_fixtures import TinyMLP, loaders


def _setup(seed=0, lr=0.05, p=0.2):
    sg.manual_seed(seed)
    model = TinyMLP(p=p)
    return model, optim.Adam(model.parameters(), lr=lr)


def test_loss_decreases_and_model_learns():
    model, opt = _setup()
    train, val = loaders()
    before = evaluate(model, val)
    hist = fit(model, train, val, optimizer=opt, epochs=6, progress=False)
    assert len(hist) == 6 and hist["epoch"] == [1, 2, 3, 4, 5, 6]
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert hist["val_loss"][-1] < before["loss"]
    assert hist["val_accuracy"][-1] >= 0.9
    assert set(hist.columns) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time", "samples_per_s"}


def test_train_and_eval_modes_are_switched():
    model, opt = _setup()
    train, val = loaders()
    seen = []
    original = model.forward

    def spy(x):
        seen.append((model.training, sg.is_grad_enabled()))
        return original(x)

    model.forward = spy
    fit(model, train, val, optimizer=opt, epochs=1, progress=False)
    n_train = len(train)
    assert all(mode == (True, True) for mode in seen[:n_train])
    assert seen[n_train:] and all(mode == (False, False) for mode in seen[n_train:])
    assert model.training  # fit leaves the model in training mode


def test_evaluate_restores_mode_and_predict_matches_forward():
    model, _ = _setup()
    train, val = loaders()
    model.eval()
    evaluate(model, val)
    assert not model.training
    model.train()
    x = val.dataset.arrays[0]
    out = predict(model, x, batch_size=7)
    with sg.no_grad():
        model.eval()
        np.testing.assert_allclose(out, model(sg.tensor(x)).data, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(predict(model, val), out, rtol=1e-6, atol=1e-6)
    res = evaluate(model, val, metrics=("accuracy", "zero_one_loss", "top2"))
    assert res["accuracy"] == pytest.approx(1 - res["zero_one_loss"])
    assert res["top2"] >= res["accuracy"]


@pytest.mark.parametrize("mode, monitor, values, stop_epoch", [
    ("min", "val_loss", [1.0, 0.9, 0.95, 0.91, 0.92, 0.5], 4),   # best at 1 (0-based), patience 3
    ("max", "val_accuracy", [0.1, 0.2, 0.3, 0.29, 0.3, 0.3], 5),  # min_delta 0.01: 0.3 is not > 0.31
])
def test_early_stopping(mode, monitor, values, stop_epoch):
    model, opt = _setup()
    train, val = loaders()

    class Fake(Callback):  # replaces the monitored value with a scripted sequence
        def on_epoch_end(self, epoch, logs, run):
            logs[monitor] = values[epoch]

    stopper = EarlyStopping(monitor=monitor, patience=3, min_delta=0.01, mode=mode)
    hist = fit(model, train, val, optimizer=opt, epochs=len(values), callbacks=[Fake(), stopper], progress=False)
    assert stopper.stopped_epoch == stop_epoch
    assert len(hist) == stop_epoch + 1


def test_early_stopping_restores_best_weights():
    model, opt = _setup()
    train, val = loaders()
    snapshots = []
    record = LambdaCallback(on_epoch_end=lambda e, logs, run: snapshots.append(run.model.state_dict()))
    scripted = LambdaCallback(on_epoch_end=lambda e, logs, run: logs.update(val_loss=[3, 1, 2, 2][e]))
    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    fit(model, train, val, optimizer=opt, epochs=4, callbacks=[record, scripted, stopper], progress=False)
    assert stopper.stopped_epoch == 3
    for k, v in snapshots[1].items():
        np.testing.assert_array_equal(model.state_dict()[k], v)


def test_early_stopping_validates_arguments_and_monitor():
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max', got 'up'"):
        EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="patience must be a non-negative integer, got -1"):
        EarlyStopping(patience=-1)
    model, opt = _setup()
    train, _ = loaders()
    with pytest.raises(KeyError, match="monitor 'val_loss' is not among"):
        fit(model, train, optimizer=opt, epochs=1, callbacks=[EarlyStopping()], progress=False)


def test_nan_loss_stops_with_epoch_and_step():
    model, opt = _setup()
    train, _ = loaders(batch_size=30)  # 180 samples -> 6 batches per epoch

    def poisoned(out, target):
        loss = F.cross_entropy(out, target)
        return loss * float("nan") if calls.append(1) or len(calls) == 9 else loss

    calls = []
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at epoch 2, step 9 \(batch 3 of the epoch\)"):
        fit(model, train, loss=poisoned, optimizer=opt, epochs=3, progress=False)
    sg.manual_seed(0)
    bad = TinyMLP()
    bad.w1.data[...] = np.inf
    with pytest.raises(NonFiniteLossError, match="at epoch 1, step 1"):
        fit(bad, train, optimizer=optim.SGD(bad.parameters(), lr=0.1), epochs=1, progress=False)


def test_history_written_as_csv_and_json(tmp_path):
    model, opt = _setup()
    train, val = loaders()
    hist = fit(model, train, val, optimizer=opt, epochs=2, progress=False, log_dir=tmp_path)
    rows = json.loads((tmp_path / "history.json").read_text())
    assert rows == hist.rows
    back = History.from_csv(tmp_path / "history.csv")
    assert back.columns == hist.columns and len(back.rows) == len(hist.rows) == 2
    for a, b in zip(back.rows, hist.rows):
        assert a == pytest.approx(b)


def test_scheduler_steps_per_epoch_or_per_step():
    model, opt = _setup()
    train, _ = loaders()
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    hist = fit(model, train, optimizer=opt, scheduler=sched, epochs=3, progress=False)
    assert hist["lr"] == pytest.approx([0.05, 0.025, 0.0125])
    model, opt = _setup()
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=2 * len(train))
    fit(model, train, optimizer=opt, scheduler=sched, epochs=2, scheduler_interval="step", progress=False)
    assert sched.last_epoch == 2 * len(train)


def test_in_process_resume_is_exact(tmp_path):
    """Stop a run after a mid-epoch checkpoint, resume in fresh objects: same weights and history."""
    def run(epochs, ckdir, resume=False, seed=0):
        model, opt = _setup(seed=seed)
        sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
        train, val = loaders(seed=3)
        stop = EarlyStopping(monitor="val_accuracy", patience=10)
        hist = fit(model, train, val, optimizer=opt, scheduler=sched, epochs=epochs, callbacks=[stop],
                   checkpoint_dir=ckdir, checkpoint_every=5, resume=resume, progress=False)
        return model, hist

    full, full_hist = run(3, tmp_path / "a")

    class Crash(Exception):
        pass

    model, opt = _setup()
    train, val = loaders(seed=3)
    sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    crash = LambdaCallback(on_batch_end=lambda step, logs, run: (_ for _ in ()).throw(Crash()) if step == 17 else None)
    with pytest.raises(Crash):  # dies at step 17; the last checkpoint is at step 15, mid epoch 2
        fit(model, train, val, optimizer=opt, scheduler=sched, epochs=3,
            callbacks=[EarlyStopping(monitor="val_accuracy", patience=10), crash],
            checkpoint_dir=tmp_path / "b", checkpoint_every=5, progress=False)
    state = json.loads((tmp_path / "b" / "state.json").read_text())
    assert state["extra"]["trainer"]["step"] == 15 and state["extra"]["trainer"]["in_epoch"]

    resumed, resumed_hist = run(3, tmp_path / "b", resume=True, seed=123)
    for k, v in full.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k], v, err_msg=k)
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("time", "samples_per_s")} for r in rows]  # noqa: E731
    assert strip(resumed_hist.rows) == strip(full_hist.rows)


def test_fit_argument_errors(tmp_path):
    model, opt = _setup()
    train, _ = loaders()
    with pytest.raises(ValueError, match="optimizer is required"):
        fit(model, train, epochs=1)
    with pytest.raises(ValueError, match="epochs must be a non-negative integer, got -1"):
        fit(model, train, optimizer=opt, epochs=-1)
    with pytest.raises(ValueError, match="checkpoint_every needs checkpoint_dir"):
        fit(model, train, optimizer=opt, checkpoint_every=3)
    with pytest.raises(ValueError, match="scheduler_interval must be 'epoch' or 'step', got 'batch'"):
        fit(model, train, optimizer=opt, scheduler_interval="batch")
    with pytest.raises(TypeError, match="callbacks must be Callback instances"):
        fit(model, train, optimizer=opt, callbacks=[print])
    with pytest.raises(ValueError, match="needs a loader with state_dict"):
        fit(model, [(np.zeros((2, 4), np.float32), np.zeros(2, np.int64))], optimizer=opt,
            checkpoint_dir=tmp_path, checkpoint_every=1)


def test_plain_list_of_batches_works():
    model, opt = _setup()
    batches = [(np.random.default_rng(i).standard_normal((8, 4)).astype(np.float32), np.arange(8) % 3)
               for i in range(3)]
    before = [p.data.copy() for p in model.parameters()]
    hist = fit(model, batches, optimizer=opt, epochs=2, progress=False)
    assert len(hist) == 2 and np.isfinite(hist["loss"]).all()
    assert any(not np.array_equal(b, p.data) for b, p in zip(before, model.parameters()))  # it trained


def test_progress_lines_when_not_a_terminal():
    model, opt = _setup()
    train, val = loaders()
    out = io.StringIO()
    fit(model, train, val, optimizer=opt, epochs=2, progress=Reporter(stream=out))
    lines = out.getvalue().splitlines()
    assert [line.split()[:2] for line in lines] == [["epoch", "1/2"], ["epoch", "2/2"]]
    assert "val_accuracy" in lines[0] and "%" in lines[0] and "samples/s" in lines[0]
    quiet = io.StringIO()
    fit(model, train, optimizer=opt, epochs=1, progress=Reporter(quiet=True, stream=quiet))
    assert quiet.getvalue() == ""


def test_tqdm_bar_when_asked():
    pytest.importorskip("tqdm")
    model, opt = _setup()
    train, _ = loaders()
    bar, lines = io.StringIO(), io.StringIO()
    fit(model, train, optimizer=opt, epochs=1, progress=Reporter(stream=lines, bar_stream=bar, bar=True))
    assert "epoch 1/1" in bar.getvalue() and f"/{len(train)}" in bar.getvalue()  # tqdm's bar, on bar_stream
    assert lines.getvalue().startswith("epoch 1/1")
