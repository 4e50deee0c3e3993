"""``slimgrad summary MODEL --input C,H,W``: table, Markdown and JSON output for zoo models; clear errors."""
import json

import pytest

from slimgrad.cli import main
from slimgrad.models import get_model


def _run(capsys, *argv):
    rc = main(["summary", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_json_matches_the_model(capsys):
    rc, out, _ = _run(capsys, "sep_cnn", "--input", "1,28,28", "--format", "json", "--batch-size", "2")
    assert rc == 0
    data = json.loads(out)
    model = get_model("sep_cnn")
    assert data["totals"]["params"] == sum(p.data.size for p in model.parameters())
    assert data["input_shape"] == [2, 1, 28, 28]
    assert data["rows"][-1]["output_shape"] == [2, 10]
    assert data["mode"] == "eval" and not data["totals"]["partial"]
    assert any(r["type"] == "DepthwiseConv2d" for r in data["rows"])


def test_table_and_markdown(capsys):
    rc, out, _ = _run(capsys, "std_cnn", "--input", "1,28,28")
    assert rc == 0 and "MACs" in out and "total" in out and "2 FLOPs" in out
    rc, out, _ = _run(capsys, "lenet5", "--input", "1,28,28", "--format", "markdown")
    assert rc == 0 and out.lstrip().startswith("**") and "|---|" in out


def test_mlp_takes_a_flat_input(capsys):
    rc, out, _ = _run(capsys, "mlp", "--input", "784", "--format", "json")
    assert rc == 0
    rows = json.loads(out)["rows"]
    assert [r["type"] for r in rows][:2] == ["Flatten", "Linear"] and rows[1]["macs"] == 784 * 256


def test_measure_adds_speed_columns(capsys):
    rc, out, _ = _run(capsys, "lenet5", "--input", "1,28,28", "--measure")
    assert rc == 0 and "GFLOP/s" in out and "FLOP/B" in out


@pytest.mark.parametrize("argv,message", [
    (["sep_cnn", "--input", "1,x,28"], "--input"),
    (["sep_cnn", "--input", "1,28,28", "--batch-size", "0"], "--batch-size"),
    (["no_such_model", "--input", "1,28,28"], "no_such_model"),
    (["sep_cnn", "--input", "3,28,28", "--num-classes", "0"], "num_classes"),
    (["lenet5", "--input", "1,4,4"], "input"),
])
def test_bad_arguments_give_a_clear_error(capsys, argv, message):
    rc, _, err = _run(capsys, *argv)
    assert rc == 2 and message in err
