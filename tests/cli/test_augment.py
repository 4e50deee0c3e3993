"""``slimgrad augment`` writes a grid PNG of originals and augmented samples."""
import pytest

from slimgrad.cli import main


def test_augment_writes_grid(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "grid.png"
    rc = main(["augment", "--dataset", "digits", "--transforms", "rotate=15,translate=0.1,erase=0.25",
               "--out", str(out), "--n", "9", "--seed", "1"])
    assert rc == 0 and out.is_file()
    assert str(out) in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > im.size[1]


def test_augment_segmentation_and_mixing(tmp_path):
    assert main(["augment", "--dataset", "shapes", "--transforms", "heavy,hflip=0.5", "--out",
                 str(tmp_path / "s.png"), "--n", "4"]) == 0
    assert main(["augment", "--dataset", "digits", "--transforms", "mixup=0.4", "--out",
                 str(tmp_path / "m.png"), "--n", "4"]) == 0


def test_augment_same_seed_same_image(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for path in (a, b):
        main(["augment", "--dataset", "digits", "--transforms", "heavy", "--out", str(path), "--seed", "3"])
    assert a.read_bytes() == b.read_bytes()


def test_augment_bad_spec_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="unknown key 'spin'"):
        main(["augment", "--dataset", "digits", "--transforms", "spin=3", "--out", str(tmp_path / "x.png")])


def test_augment_missing_dataset_directory_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="slimgrad augment: IDX dataset directory .* never downloads"):
        main(["augment", "--dataset", "mnist", "--root", str(tmp_path / "none"), "--out", str(tmp_path / "x.png")])
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(SystemExit, match="cannot write --out"):
        main(["augment", "--dataset", "digits", "--n", "2", "--out", str(tmp_path / "file" / "y.png")])
