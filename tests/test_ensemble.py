"""Ensembles: averaged softmax of stored runs (hand-made predictions, then two real tiny runs)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnn_tui.cli import main
from cnn_tui.core.config import apply_overrides, config_from_dict
from cnn_tui.core.engine import train
from cnn_tui.core.engine.ensemble import ensemble
from cnn_tui.core.errors import CnnTuiError
from cnn_tui.core.presets import load_preset
from cnn_tui.core.results.store import RunStore

TINY = ["train.epochs=1", "data.train_limit=200", "data.test_limit=100", "train.batch_size=32",
        "train.tensorboard=false", "train.save_model=false", "train.checkpoint=false"]


def fake_run(root, probs, labels, dataset="digits", classes=("a", "b", "c")):
    config = config_from_dict({"data": {"dataset": dataset}})
    writer = RunStore(root).create(config, name="member")
    probs = np.asarray(probs, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    acc = float(np.mean(probs.argmax(1) == labels))
    writer.write_metrics({"test_accuracy": acc, "dataset": dataset, "class_names": list(classes)})
    writer.save_predictions(probs=probs, labels=labels, preds=probs.argmax(1), test_index=np.arange(len(labels)))
    writer.finish("completed")
    return RunStore(root).get(writer.run_id)


def test_averaging_math(tmp_path):
    labels = [0, 1, 2, 0]
    a = fake_run(tmp_path, [[.6, .4, 0], [.6, .4, 0], [0, .2, .8], [.9, .1, 0]], labels)  # 3/4 right
    b = fake_run(tmp_path, [[.4, .6, 0], [.0, 1., 0], [.3, .3, .4], [.2, .8, 0]], labels)  # 2/4 right
    result = ensemble([a, b])
    assert [r["k"] for r in result.rows] == [1, 2]
    assert result.rows[0]["ensemble_accuracy"] == pytest.approx(0.75) == a.metrics["test_accuracy"]
    assert result.rows[1]["member_accuracy"] == pytest.approx(0.5)
    # averaged: [.5,.5,0] (tie -> class 0, right), [.3,.7,0] right, [.15,.25,.6] right, [.55,.45,0] right
    assert result.rows[1]["ensemble_accuracy"] == pytest.approx(1.0)
    assert result.rows[1]["ensemble_f1_weighted"] == pytest.approx(1.0)
    assert result.table.columns[0] == "k" and result.test_size == 4


def test_mismatches_name_the_run(tmp_path):
    a = fake_run(tmp_path, [[1, 0, 0], [0, 1, 0]], [0, 1])
    other_labels = fake_run(tmp_path, [[1, 0, 0], [0, 1, 0]], [0, 2])
    other_data = fake_run(tmp_path, [[1, 0, 0], [0, 1, 0]], [0, 1], dataset="mnist")
    other_classes = fake_run(tmp_path, [[1, 0, 0], [0, 1, 0]], [0, 1], classes=("x", "y", "z"))
    for bad, needle in ((other_labels, "test labels"), (other_data, "dataset"), (other_classes, "class names")):
        with pytest.raises(CnnTuiError) as info:
            ensemble([a, bad])
        assert bad.run_id in str(info.value) and needle in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(CnnTuiError, match="given twice"):
        ensemble([a, a])
    writer = RunStore(tmp_path).create(config_from_dict({}), name="empty")
    writer.finish("failed", error="boom")
    with pytest.raises(CnnTuiError, match="no test predictions"):
        ensemble([a, RunStore(tmp_path).get(writer.run_id)])


def test_ensemble_of_real_runs_and_cli(tmp_path, capsys):
    base = apply_overrides(load_preset("digits-quick"), TINY)
    results = [train(apply_overrides(base, {"train.seed": s}), runs_dir=tmp_path, name=f"m{s}") for s in (1, 2)]
    assert all(r.status == "completed" for r in results)
    runs = [RunStore(tmp_path).get(r.run_id) for r in results]
    result = ensemble(runs)
    assert result.rows[0]["ensemble_accuracy"] == pytest.approx(results[0].metrics["test_accuracy"])
    assert result.rows[1]["member_accuracy"] == pytest.approx(results[1].metrics["test_accuracy"])
    assert 0.0 <= result.rows[1]["ensemble_f1_weighted"] <= 1.0

    capsys.readouterr()
    code = main(["ensemble", *(r.run_id for r in results), "--runs-dir", str(tmp_path), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and [row["k"] for row in data] == [1, 2]
    assert data[0]["added"] == results[0].run_id
