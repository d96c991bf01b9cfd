"""The bad-input catalogue, part two: datasets, architectures and runs folders given on the
command line. Each case is a file or an argument; each must give exit 2, one
``cnn-tui: error:`` line naming what is wrong, no traceback, and no run folder.

(The config-file cases — malformed TOML, unknown key, wrong type, out-of-range values,
unknown preset/dataset, ``../`` in a preset name — are in test_cli.py with the
``tests/data/bad_*.toml`` fixtures.) These run the real engine in-process: every one of
them is refused before TensorFlow is imported.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from cnn_tui.cli import main
from cnn_tui.core.results.store import RunStore


def _png(path: Path, color=(200, 10, 10), size=(12, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def _two_classes(root: Path, write: Callable[[Path], None], ext: str = ".png") -> Path:
    for cls in ("cats", "dogs"):
        for i in range(3):
            path = root / cls / f"{i}{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
    return root


def _truncated(path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (9, 90, 200)).save(buf, "PNG")
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


def _huge(path: Path) -> None:
    """A PNG whose header claims 9000 x 9000 pixels (a decompression-bomb stand-in, 100 bytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 9000, 9000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _pickled(path: Path) -> Path:
    x = np.empty(4, dtype=object)
    x[:] = [np.zeros((2, 2))] * 4
    return _npz(path, x_train=x, y_train=np.arange(4) % 2)


X = np.zeros((6, 8, 8), np.uint8)
Y = np.arange(6) % 2


def _folder(root: Path) -> list[str]:
    return ["--set", f"data.dataset=folder:{root}"]


def _arrays(path: Path) -> list[str]:
    return ["--set", f"data.dataset=arrays:{path}"]


# (id, make(tmp) -> extra argv for `run digits-quick`, fragment the error line must contain)
CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("empty folder", lambda t: (t / "empty").mkdir() or _folder(t / "empty"), "no images found"),
    ("folder with one class", lambda t: _png(t / "one" / "cats" / "a.png") or _folder(t / "one"),
     "needs at least 2 classes, found 1: 'cats'"),
    ("zero-byte images", lambda t: _folder(_two_classes(t / "z", lambda p: p.write_bytes(b""))), "no readable images"),
    ("corrupt images", lambda t: _folder(_two_classes(t / "c", lambda p: p.write_bytes(b"\x89PNG garbage" * 9))),
     "no readable images"),
    ("truncated images", lambda t: _folder(_two_classes(t / "t", _truncated)), "no readable images"),
    ("non-image files", lambda t: _folder(_two_classes(t / "n", lambda p: p.write_text("hello"), ".txt")),
     "no images found"),
    ("huge images", lambda t: _folder(_two_classes(t / "h", _huge)), "too large"),
    ("missing folder", lambda t: _folder(t / "nowhere"), "no such folder"),
    ("npz with pickled objects", lambda t: _arrays(_pickled(t / "evil.npz")), "pickled objects, which are refused"),
    ("mismatched x/y lengths", lambda t: _arrays(_npz(t / "m.npz", x_train=X, y_train=Y[:4])),
     "6 images but y_train has 4 labels"),
    ("labels out of range", lambda t: _arrays(_npz(t / "r.npz", x_train=X, y_train=np.array([0, 1, 2, 0, 1, 5]),
                                                    class_names=np.array(["a", "b", "c"]))), "label 5"),
    ("negative labels", lambda t: _arrays(_npz(t / "neg.npz", x_train=X, y_train=Y - 1)), "negative labels"),
    ("fractional labels", lambda t: _arrays(_npz(t / "f.npz", x_train=X, y_train=Y + 0.5)), "integer class labels"),
    ("string images", lambda t: _arrays(_npz(t / "s.npz", x_train=np.full((6, 8, 8), "a"), y_train=Y)),
     "unsupported dtype"),
    ("image values out of range", lambda t: _arrays(_npz(t / "v.npz", x_train=X.astype(np.int32) + 300, y_train=Y)),
     "0..255"),
    ("2-D images", lambda t: _arrays(_npz(t / "2d.npz", x_train=np.zeros((6, 64), np.uint8), y_train=Y)),
     "must be (N, H, W)"),
    ("2 channels", lambda t: _arrays(_npz(t / "c2.npz", x_train=np.zeros((6, 8, 8, 2), np.uint8), y_train=Y)),
     "C in 1, 3, 4"),
    ("labels of the wrong shape", lambda t: _arrays(_npz(t / "ys.npz", x_train=X, y_train=np.zeros((6, 2, 2)))),
     "y_train must be"),
    ("npz missing y_train", lambda t: _arrays(_npz(t / "noy.npz", x_train=X)), "missing y_train"),
    ("not an npz", lambda t: _arrays(t / "junk.npz") if (t / "junk.npz").write_bytes(b"junk") else [], "junk.npz"),
    ("unknown architecture", lambda t: ["--set", "model.architecture=resnet9000"], "resnet9000"),
    ("architecture too deep for 8x8 digits", lambda t: ["--set", "model.architecture=vgg10"], "8x8"),
]


# The product silences Pillow's bomb warning once per process; pytest resets warning filters per test.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")

def assert_refused(code: int, capsys, fragment: str, runs, left: str) -> None:
    """Exit 2 with one error line holding ``fragment``, no traceback, no output, nothing in ``runs``."""
    captured = capsys.readouterr()
    assert code == 2, captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("cnn-tui: error: ") and fragment in lines[0], lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert not runs.exists() or not any(runs.iterdir()), left

@pytest.mark.parametrize(("make", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_dataset_or_model_exits_2_with_one_line(tmp_path, capsys, monkeypatch, make, fragment) -> None:
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    argv = ["run", "digits-quick", "--runs-dir", str(runs), "--set", "train.epochs=1", *make(tmp_path)]
    assert_refused(main(argv), capsys, fragment, runs, "a refused run left a run folder")


# A study checks the same sources before it writes anything (headers and labels only, no
# image decoded): all but the two whose problem is in the pixels, found when a trial loads.
CONTENT_ONLY = ("truncated images", "image values out of range")
STUDY_CASES = [c for c in CASES if c[0] not in CONTENT_ONLY]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(("make", "fragment"), [c[1:] for c in STUDY_CASES], ids=[c[0] for c in STUDY_CASES])
def test_bad_dataset_or_model_refuses_a_study_before_writing(tmp_path, capsys, monkeypatch, make, fragment) -> None:
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    argv = ["sweep", "digits-quick", "--grid", "model.batch_norm=true,false", "--runs-dir", str(runs),
            "--set", "train.epochs=1", *make(tmp_path)]
    assert_refused(main(argv), capsys, fragment, runs, "a refused study left a folder")


# ---------------------------------------------------------------------------------------
# A runs folder with foreign and damaged runs inside


def _good_run(runs: Path) -> Path:
    from cnn_tui.core.config import ExperimentConfig

    writer = RunStore(runs).create(ExperimentConfig(name="good"))
    writer.append_history({"epoch": 1, "loss": 0.5, "accuracy": 0.8, "lr": 1e-3, "seconds": 0.1})
    writer.write_metrics({"test_accuracy": 0.9, "epochs_completed": 1})
    writer.finish("completed")
    return writer.path


DAMAGE = {
    "status-not-json": lambda d: (d / "status.json").write_text("{torn", encoding="utf-8"),
    "status-a-list": lambda d: (d / "status.json").write_text("[1, 2]", encoding="utf-8"),
    "status-wrong-types": lambda d: (d / "status.json").write_text(
        json.dumps({"state": "completed", "created": 5, "tags": [1], "pid": "x"}), encoding="utf-8"),
    "status-unknown-state": lambda d: (d / "status.json").write_text(json.dumps({"state": "banana"}), encoding="utf-8"),
    "status-a-folder": lambda d: ((d / "status.json").unlink(), (d / "status.json").mkdir()),
}


def _messy_runs(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    runs = tmp_path / "runs"
    good = _good_run(runs)
    for name, damage in DAMAGE.items():
        path = runs / name
        path.mkdir()
        (path / "status.json").write_text("{}", encoding="utf-8")
        damage(path)
    (runs / "foreign").mkdir()
    (runs / "foreign" / "notes.txt").write_text("not a run", encoding="utf-8")
    (runs / "stray-file.txt").write_text("hello", encoding="utf-8")
    (runs / "no-config").mkdir()
    (runs / "no-config" / "status.json").write_text(json.dumps({"state": "stopped", "checkpoint_epoch": 1}))
    snapshot = {str(p): p.read_bytes() for p in sorted(good.rglob("*")) if p.is_file()}
    return runs, good, snapshot


def test_runs_folder_with_foreign_and_damaged_runs_is_still_listed(tmp_path, capsys) -> None:
    runs, good, snapshot = _messy_runs(tmp_path)
    assert main(["runs", "list", "--runs-dir", str(runs), "--format", "json"]) == 0
    rows = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[good.name]["state"] == "completed"
    for name in DAMAGE:
        assert rows[name]["state"] == "damaged" and rows[name]["error"], name
    assert "foreign" not in rows and "stray-file.txt" not in rows
    assert main(["runs", "list", "--runs-dir", str(runs)]) == 0
    assert "damaged" in capsys.readouterr().out
    assert main(["export", "--runs-dir", str(runs), "--format", "md"]) == 0
    assert good.name in capsys.readouterr().out
    assert main(["runs", "show", "status-wrong-types", "--runs-dir", str(runs)]) == 0
    assert "created = 5" in capsys.readouterr().out
    assert {str(p): p.read_bytes() for p in sorted(good.rglob("*")) if p.is_file()} == snapshot


@pytest.mark.parametrize(("ref", "fragment"), [*((n, "damaged") for n in DAMAGE), ("no-config", "config.toml"),
                                               ("foreign", "not found")])
def test_resuming_a_damaged_or_foreign_run_is_one_line(tmp_path, capsys, ref, fragment) -> None:
    runs, good, snapshot = _messy_runs(tmp_path)
    before = {str(p): p.read_bytes() for p in sorted(runs.rglob("*")) if p.is_file()}
    code = main(["resume", ref, "--runs-dir", str(runs)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and fragment in err, err
    assert {str(p): p.read_bytes() for p in sorted(runs.rglob("*")) if p.is_file()} == before


# ---------------------------------------------------------------------------------------
# A scraped folder with some unreadable files: skipped, named, and the run goes on


def test_unreadable_images_are_skipped_with_one_warning_naming_them(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "scraped"
    for cls, color in (("cats", (200, 10, 10)), ("dogs", (10, 200, 10))):
        for i in range(8):
            _png(root / cls / f"{i}.png", color)
    for name in ("cats/empty.png", "cats/junk.jpg", "dogs/half.png", "dogs/zz.png"):
        (root / name).write_bytes(b"" if "empty" in name else b"\x89PNG garbage" * 9)
    _truncated(root / "dogs" / "half.png")
    runs = tmp_path / "runs"
    code = main(["run", "digits-quick", "--runs-dir", str(runs), "--set", f"data.dataset=folder:{root}",
                 "--set", "data.image_size=[8, 8]", "--set", "train.epochs=1", "--set", "data.validation_split=0"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: 4 unreadable image files skipped (empty, corrupt, truncated or too large): "
                        "cats/empty.png, cats/junk.jpg, dogs/half.png and 1 more"], captured.err
    (run,) = RunStore(runs).list()
    assert run.state == "completed" and captured.out.strip().splitlines()[-1] == str(run.path)
