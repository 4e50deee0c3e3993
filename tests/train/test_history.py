"""History rows and their CSV/JSON files; the progress line format."""
import json
import math

import pytest

from slimgrad.train import History
from slimgrad.train.progress import format_metrics


def test_columns_rows_and_keras_view():
    h = History([{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25, "val_loss": 0.3}])
    assert h.columns == ["epoch", "loss", "val_loss"]
    assert h.history == {"epoch": [1, 2], "loss": [0.5, 0.25], "val_loss": [None, 0.3]}
    assert h["loss"] == [0.5, 0.25] and h[1]["val_loss"] == 0.3 and len(h) == 2


def test_csv_and_json_round_trip(tmp_path):
    h = History([{"epoch": 1, "loss": 1 / 3, "lr": 1e-3}, {"epoch": 2, "loss": float("nan"), "lr": 1e-4}])
    h.to_csv(tmp_path / "sub" / "h.csv")
    back = History.from_csv(tmp_path / "sub" / "h.csv")
    assert back[0] == {"epoch": 1, "loss": 1 / 3, "lr": 1e-3}  # floats written exactly (repr)
    assert math.isnan(back[1]["loss"])
    text = h.to_json(tmp_path / "h.json")
    assert json.loads(text)[1]["loss"] is None  # strict JSON: NaN becomes null
    assert History.from_json(tmp_path / "h.json")[0] == h[0]


@pytest.mark.parametrize("values, expected", [
    ({"loss": 0.12345, "accuracy": 0.9712}, "loss 0.1235  accuracy 97.12%"),
    ({"val_top5": 0.5, "lr": 1e-5, "samples_per_s": 1234.6}, "val_top5 50.00%  lr 1e-05  1235 samples/s"),
    ({"loss": None, "epoch": 3}, "epoch 3"),
])
def test_format_metrics(values, expected):
    assert format_metrics(values) == expected
