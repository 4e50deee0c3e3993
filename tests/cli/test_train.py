"""``slimgrad train`` end to end: outputs, errors, the digits MLP bar, exact resume after SIGKILL."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from slimgrad.cli import main
from slimgrad.io.safetensors import load_file

SMALL = ["--model", "mlp", "--dataset", "digits", "--optimizer", "sgd"]


def test_mlp_on_digits_with_sgd_reaches_95_percent(tmp_path, capsys):
    """Issue 'Engine' item 9: the default epochs of `slimgrad train --model mlp --dataset digits --optimizer sgd`."""
    assert main(["train", *SMALL, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.95
    epochs = metrics["config"]["epochs"]
    assert len(metrics["history"]) == epochs
    assert [line.split()[1] for line in out.splitlines() if line.startswith("epoch ")] == \
        [f"{e}/{epochs}" for e in range(1, epochs + 1)]
    assert f"test accuracy {100 * metrics['test_accuracy']:.2f}%" in out and "wall time" in out


def test_outputs_of_a_small_run(tmp_path, capsys):
    assert main(["train", *SMALL, "--epochs", "2", "--batch-size", "64", "--dropout", "0.1", "--augment", "light",
                 "--scheduler", "cosine", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "epoch" not in out and out.startswith("test accuracy")  # --quiet: the results line only
    names = set(os.listdir(tmp_path))
    assert {"metrics.json", "history.csv", "history.json", "model.safetensors", "checkpoint", "curves.png"} <= names
    m = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("test_accuracy", "test_loss", "wall_time_s", "parameters", "macs", "history", "config"):
        assert key in m, key
    assert m["parameters"] == 64 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert m["macs"] == 64 * 256 + 256 * 256 + 256 * 10
    assert m["config"]["dropout"] == 0.1 and m["config"]["augment"] == "light"
    assert [r["epoch"] for r in m["history"]] == [1, 2]
    assert m["history"][1]["lr"] < m["history"][0]["lr"]  # cosine schedule
    weights = load_file(tmp_path / "model.safetensors")
    assert set(weights) == {"1.weight", "1.bias", "4.weight", "4.bias", "7.weight", "7.bias"}
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "0"], "--batch-size: expected a positive integer, got 0"),
    (["--lr", "-1"], "--lr: expected a positive learning rate, got -1.0"),
    (["--dropout", "1.5"], "--dropout: expected a probability in [0, 1), got 1.5"),
    (["--checkpoint-every", "0"], "--checkpoint-every: expected a positive number of steps, got 0"),
    (["--model", "nope"], "unknown model 'nope'"),
    (["--dataset", "nope"], "unknown dataset 'nope'"),
])
def test_bad_options_fail_with_a_clear_message(tmp_path, capsys, argv, message):
    args = ["train", "--model", "mlp", "--dataset", "digits", "--epochs", "1", "--out", str(tmp_path), *argv]
    assert main(args) != 0
    assert message in capsys.readouterr().err


def test_resume_refuses_a_different_configuration(tmp_path, capsys):
    assert main(["train", *SMALL, "--epochs", "1", "--out", str(tmp_path), "--quiet"]) == 0
    assert main(["train", "--resume", str(tmp_path), "--lr", "0.5"]) == 2
    assert "--lr 0.5 differs from the resumed run's 0.1" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "no checkpoint here" in capsys.readouterr().err
    # a corrupt checkpoint is reported, naming the file
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    (tmp_path / "checkpoint" / state["files"]["model"]["name"]).write_bytes(b"\0" * 10)
    assert main(["train", "--resume", str(tmp_path), "--quiet"]) == 1
    assert "checksum mismatch" in capsys.readouterr().err


SLOW_STEPS = """
import sys, time
from slimgrad import optim
step = optim.SGD.step
def throttled(self, *args, **kwargs):  # slow the run down so the test can kill it mid-epoch
    time.sleep(0.02)
    return step(self, *args, **kwargs)
optim.SGD.step = throttled
from slimgrad.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_mid_epoch_then_resume_is_bit_exact(tmp_path):
    run = [*SMALL, "--epochs", "2", "--dropout", "0.2", "--augment", "light", "--scheduler", "onecycle",
           "--seed", "3", "--quiet"]
    reference = tmp_path / "reference"
    assert main(["train", *run, "--out", str(reference)]) == 0

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_STEPS, "train", *run, "--checkpoint-every", "7",
                             "--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    state_file = killed / "checkpoint" / "state.json"
    deadline = time.monotonic() + 120
    step = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if state_file.exists():
                try:
                    trainer = json.loads(state_file.read_text())["extra"]["trainer"]
                except (ValueError, KeyError):
                    trainer = {}
                if trainer.get("in_epoch") and trainer.get("step", 0) >= 14:
                    step = trainer["step"]
                    break
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    assert step >= 14 and not (killed / "metrics.json").exists()

    resumed = subprocess.run([sys.executable, "-c", "import sys; from slimgrad.cli import main; sys.exit(main())",
                              "train", "--resume", str(killed), "--quiet"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    want, got = load_file(reference / "model.safetensors"), load_file(killed / "model.safetensors")
    assert set(want) == set(got)
    for key in want:
        assert want[key].dtype == got[key].dtype
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    ref_hist = json.loads((reference / "metrics.json").read_text())["history"]
    res_hist = json.loads((killed / "metrics.json").read_text())["history"]
    drop = ("time", "samples_per_s")
    assert [{k: v for k, v in r.items() if k not in drop} for r in res_hist] == \
        [{k: v for k, v in r.items() if k not in drop} for r in ref_hist]


@pytest.mark.slow
def test_default_configuration_reaches_97_percent_on_mnist_5k(tmp_path):
    """The README's main command: sep_cnn on mnist-5k with Adam, default options."""
    assert main(["train", "--out", str(tmp_path), "--quiet"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["model"] == "sep_cnn" and metrics["config"]["dataset"] == "mnist-5k"
    assert metrics["test_accuracy"] >= 0.97
