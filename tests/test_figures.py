"""Figures from stored runs and experiments (no TensorFlow): files that open in the usual tools."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from figure_fixtures import ABLATION, CLASSES, confusion_for, make_experiment, make_run
from PIL import Image

from cnn_tui.cli import main
from cnn_tui.core.results import figures
from cnn_tui.core.results.samples import load_misclassified
from cnn_tui.core.results.store import RunStore

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("runs")
    a = make_run(root, "base", seed=0)
    b = make_run(root, "drop", overrides={"model.dropout": 0.3}, score=0.85, seed=1)
    exp = make_experiment(root, ABLATION)
    runs = RunStore(root)
    return {"root": root, "a": runs.get(str(a)), "b": runs.get(str(b)), "exp": exp}


def _cases(store):
    a, b, exp = store["a"], store["b"], store["exp"]
    return [
        ("run-curves", dict(kind="curves", runs=[a])),
        ("overlay", dict(kind="curves", runs=[a, b])),
        ("confusion", dict(kind="confusion", runs=[a])),
        ("confusion-norm", dict(kind="confusion", runs=[a], normalize=True)),
        ("misclassified", dict(kind="misclassified", runs=[a], limit=9)),
        ("exp-curves", dict(kind="curves", experiment=exp)),
        ("bars", dict(kind="bars", experiment=exp)),
    ]


def _check_png(path: Path, size: tuple[int, int]) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        assert image.size == size
        pixels = np.asarray(image.convert("L"), dtype=float)
    assert pixels.var() > 100, f"{path.name} looks blank"


def test_every_figure_as_png_svg_and_pdf(store, tmp_path):
    size = (640, 480)
    for name, case in _cases(store):
        kind = case.pop("kind")
        fig = figures.draw(kind, size=size, dpi=80, **case)
        _check_png(figures.save(fig, tmp_path / f"{name}.png"), size)
        svg = figures.save(fig, tmp_path / f"{name}.svg")
        assert ET.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg"
        pdf = figures.save(fig, tmp_path / f"{name}.PDF")  # the suffix picks the format, any case
        assert pdf.read_bytes()[:5] == b"%PDF-"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_figures_drawn_from_worker_threads(store, tmp_path):
    errors: list[BaseException] = []

    def work(cases, suffix):
        try:
            for name, case in cases:
                kind = case.pop("kind")
                figures.save(figures.draw(kind, size=(600, 400), **case), tmp_path / f"{name}-{suffix}.png")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(_cases(store), i)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for path in sorted(tmp_path.glob("*.png")):
        _check_png(path, (600, 400))
    assert len(list(tmp_path.glob("*.png"))) == 2 * len(_cases(store))


def test_confusion_heatmap_numbers_equal_metrics_json(store):
    run = store["a"]
    matrix = run.metrics["confusion_matrix"]
    assert matrix == confusion_for(0)
    ax = figures.confusion(run).axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert cells == {(i, j): str(v) for i, row in enumerate(matrix) for j, v in enumerate(row)}
    assert [t.get_text() for t in ax.get_xticklabels()] == CLASSES
    norm = figures.confusion(run, normalize=True).axes[0]
    first_row = [t.get_text() for t in norm.texts][:4]
    assert first_row == [f"{v / sum(matrix[0]):.2f}" for v in matrix[0]]


def test_misclassified_titles_and_overlay_labels(store):
    run = store["a"]
    fig = figures.misclassified(run, limit=6)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 6
    saved = load_misclassified(run, limit=6)
    assert titles == [f"{CLASSES[s.true]} → {CLASSES[s.pred]} ({s.confidence:.2f})" for s in saved]
    assert titles[0].endswith("(0.95)")
    assert figures.run_labels([store["a"], store["b"]]) == ["model.dropout=0.0", "model.dropout=0.3"]


def test_bad_suffix_existing_file_and_wrong_kind_are_one_line_errors(store, tmp_path):
    fig = figures.draw("curves", runs=[store["a"]])
    with pytest.raises(figures.FigureError, match=r"\.jpg.*allowed: \.png, \.svg, \.pdf"):
        figures.save(fig, tmp_path / "x.jpg")
    (tmp_path / "x.png").write_bytes(b"old")
    with pytest.raises(Exception, match="file exists"):
        figures.save(fig, tmp_path / "x.png")
    assert (tmp_path / "x.png").read_bytes() == b"old"
    with pytest.raises(figures.FigureError, match="allowed: curves, bars"):
        figures.draw("confusion", experiment=store["exp"])
    with pytest.raises(figures.FigureError, match="several runs allow: curves"):
        figures.draw("confusion", runs=[store["a"], store["b"]])


def test_plot_command(store, tmp_path, capsys):
    root = str(store["root"])
    out = tmp_path / "fig.png"
    assert main(["plot", store["a"].run_id, "--runs-dir", root, "-o", str(out), "--size", "500x300"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    _check_png(out, (500, 300))
    exp = store["exp"].name
    assert main(["plot", "--experiment", exp, "--runs-dir", root, "--kind", "all", "-o", str(tmp_path / "e.svg")]) == 0
    assert sorted(p.name for p in tmp_path.glob("e-*.svg")) == ["e-bars.svg", "e-curves.svg"]
    assert main(["plot", store["a"].short_id, "--runs-dir", root, "--kind", "confusion", "--normalize",
                 "-o", str(tmp_path / "c.pdf")]) == 0
    assert (tmp_path / "c.pdf").read_bytes()[:5] == b"%PDF-"
    capsys.readouterr()
    for argv, needle in [
        (["-o", str(tmp_path / "f.jpg")], "allowed: .png, .svg, .pdf"),
        (["-o", str(out)], "file exists"),
        (["--kind", "bars", "-o", str(tmp_path / "b.png")], "allowed: curves, confusion, misclassified"),
        (["--size", "10x10", "-o", str(tmp_path / "s.png")], "--size"),
    ]:
        assert main(["plot", store["a"].run_id, "--runs-dir", root, *argv]) == 2
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "f.jpg").exists() and not (tmp_path / "b.png").exists()
