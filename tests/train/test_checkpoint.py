"""Checkpoints: exact round trips, clear errors on corrupt/truncated/mismatched files, and crash safety."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import slimgrad as sg
import slimgrad.functional as F
from slimgrad import backend, optim
from slimgrad.train import checkpoint as ckpt
from train.train_fixtures import TinyMLP, blobs


def _train(model, opt, steps, sched=None, seed=1):
    x, y = blobs(64, seed=seed)
    for i in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(sg.tensor(x[i % 4 * 16:(i % 4 + 1) * 16])), sg.tensor(y[i % 4 * 16:(i % 4 + 1) * 16]))
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()


def _make(seed=0):
    sg.manual_seed(seed)
    model = TinyMLP()
    opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    sched = optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    return model, opt, sched


def test_round_trip_resumes_the_next_steps_exactly(tmp_path):
    model, opt, sched = _make()
    _train(model, opt, 5, sched)
    extra = {"rng": backend.get_rng_state(), "note": "hi", "t": (1, 2.5), "ints": {3: "a", 7: [np.float32(0.1)]}}
    ckpt.save_checkpoint(tmp_path, model, opt, sched, extra)
    _train(model, opt, 7, sched)
    reference = model.state_dict()

    model2, opt2, sched2 = _make(seed=99)  # different init and RNG: everything must come from the file
    got = ckpt.load_checkpoint(tmp_path, model2, opt2, sched2)
    backend.set_rng_state(got["rng"])
    assert got["note"] == "hi" and got["t"] == (1, 2.5) and list(got["ints"]) == [3, 7]
    assert isinstance(got["ints"][7][0], np.float32) and got["ints"][7][0] == np.float32(0.1)
    _train(model2, opt2, 7, sched2)
    for k, v in reference.items():
        np.testing.assert_array_equal(model2.state_dict()[k], v, err_msg=k)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_files_are_versioned_and_old_ones_removed(tmp_path):
    model, opt, sched = _make()
    for _ in range(3):
        state = ckpt.save_checkpoint(tmp_path, model, opt, sched)
    assert state["serial"] == 3
    assert sorted(os.listdir(tmp_path)) == ["model-000003.safetensors", "optimizer-000003.safetensors", "state.json"]
    on_disk = json.loads((tmp_path / "state.json").read_text())
    assert on_disk["files"]["model"]["name"] == "model-000003.safetensors"
    assert on_disk["format"] == ckpt.FORMAT and on_disk["version"] == ckpt.VERSION


def test_crash_leftovers_leave_previous_checkpoint_loadable(tmp_path):
    model, opt, _ = _make()
    ckpt.save_checkpoint(tmp_path, model, opt, extra={"i": 1})
    # a save that died after writing its data files (and a temp file) but before swapping state.json in
    (tmp_path / "model-000002.safetensors").write_bytes(b"garbage")
    (tmp_path / ".tmp-123-state.json").write_bytes(b"{")
    assert ckpt.load_checkpoint(tmp_path, model, opt)["i"] == 1
    state = ckpt.save_checkpoint(tmp_path, model, opt, extra={"i": 2})
    assert state["serial"] == 3  # never reuses a number a crashed save may have left
    assert ckpt.load_checkpoint(tmp_path, model, opt)["i"] == 2
    assert not any(n.startswith(".tmp-") or n == "model-000002.safetensors" for n in os.listdir(tmp_path))


# ------------------------------------------------------------------------------------------ errors
@pytest.fixture
def saved(tmp_path):
    model, opt, sched = _make()
    _train(model, opt, 2, sched)
    ckpt.save_checkpoint(tmp_path, model, opt, sched, {"x": 1})
    return tmp_path, json.loads((tmp_path / "state.json").read_text())


def test_flipped_byte_is_a_checksum_error_naming_the_file(saved):
    path, state = saved
    model_file = path / state["files"]["model"]["name"]
    data = bytearray(model_file.read_bytes())
    data[-3] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(ckpt.CheckpointError, match="checksum mismatch") as info:
        ckpt.load_checkpoint(path, *_make()[:2])
    assert state["files"]["model"]["name"] in str(info.value)


@pytest.mark.parametrize("kind", ["model", "optimizer"])
def test_truncated_data_file(saved, kind):
    path, state = saved
    f = path / state["files"][kind]["name"]
    f.write_bytes(f.read_bytes()[:30])
    with pytest.raises(ckpt.CheckpointError, match=f"{kind}-000001.safetensors.*(corrupt or truncated)"):
        ckpt.load_checkpoint(path, *_make())


def test_truncated_or_garbled_state_json(saved):
    path, _ = saved
    text = (path / "state.json").read_bytes()
    (path / "state.json").write_bytes(text[: len(text) // 2])
    with pytest.raises(ckpt.CheckpointError, match="state.json: corrupt or truncated JSON"):
        ckpt.load_checkpoint(path)


def test_missing_checkpoint_and_missing_file(saved, tmp_path_factory):
    with pytest.raises(ckpt.CheckpointError, match="no checkpoint here"):
        ckpt.load_checkpoint(tmp_path_factory.mktemp("empty"))
    path, state = saved
    os.remove(path / state["files"]["optimizer"]["name"])
    with pytest.raises(ckpt.CheckpointError, match="optimizer-000001.safetensors: file named by state.json is missing"):
        ckpt.load_checkpoint(path)


def test_wrong_version_or_format(saved):
    path, state = saved
    (path / "state.json").write_text(json.dumps({**state, "version": 99}))
    with pytest.raises(ckpt.CheckpointError, match="version 99"):
        ckpt.load_checkpoint(path)
    (path / "state.json").write_text(json.dumps({"something": "else"}))
    with pytest.raises(ckpt.CheckpointError, match="not a slimgrad checkpoint"):
        ckpt.load_checkpoint(path)


def test_mismatched_model_or_optimizer(saved):
    path, _ = saved
    with pytest.raises(ckpt.CheckpointError, match=r"model-000001.safetensors: 'w1' has shape \(16, 4\), "
                                                   r"TinyMLP expects \(8, 4\)"):
        ckpt.load_checkpoint(path, TinyMLP(hidden=8))
    other = TinyMLP()
    other.extra = sg.nn.Parameter(np.zeros(2, np.float32))
    with pytest.raises(ckpt.CheckpointError, match=r"missing keys \['extra'\]"):
        ckpt.load_checkpoint(path, other)
    model = TinyMLP()
    two_groups = optim.Adam([{"params": [model.w1]}, {"params": [model.b1, model.w2, model.b2]}])
    with pytest.raises(ckpt.CheckpointError, match="optimizer state does not match Adam"):
        ckpt.load_checkpoint(path, model, two_groups)


def test_unstorable_state_is_refused(tmp_path):
    with pytest.raises(ckpt.CheckpointError, match="cannot store a value of type function"):
        ckpt.save_checkpoint(tmp_path, extra={"f": lambda: 0})


# ------------------------------------------------------------------------------------------ crash safety
SAVER = textwrap.dedent("""
    import sys, numpy as np
    from slimgrad import optim
    from slimgrad.train import checkpoint as ckpt
    from train.train_fixtures import TinyMLP
    model = TinyMLP(n_in=64, hidden=256)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    i = int(sys.argv[2])
    while True:
        for p in model.parameters():
            p.data[...] = i
            opt.state[p] = {"momentum_buffer": np.full(p.shape, i, np.float32)}
        ckpt.save_checkpoint(sys.argv[1], model, opt, extra={"i": i})
        print(i, flush=True)
        i += 1
""")


def test_sigkill_during_save_leaves_a_consistent_checkpoint(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(os.path.dirname(__file__)), os.environ.get("PYTHONPATH", "")])}
    rng = np.random.default_rng(0)
    start, last_seen = 0, -1
    for round_ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(tmp_path), str(start)], env=env,
                                stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()  # at least one save of this round completed
        time.sleep(float(rng.uniform(0.0, 0.3)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        model = TinyMLP(n_in=64, hidden=256)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        i = ckpt.load_checkpoint(tmp_path, model, opt)["i"]
        assert i >= start and i > last_seen
        for p in model.parameters():
            assert np.all(p.data == i)
            assert np.all(opt.state[p]["momentum_buffer"] == i)
        names = [n for n in os.listdir(tmp_path) if n.endswith(".safetensors")]
        assert len(names) <= 4  # old files never pile up (at most the current pair + one interrupted pair)
        last_seen, start = i, i + 1000
