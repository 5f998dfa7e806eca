"""`sn-lake report`: every figure is drawn, not blank, and states the n and r the analytics views give."""

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from sn_lake import cli, report, warehouse
from tests import report_warehouse

FIGURES = {
    "robustness_vs_accuracy.png",
    "reported_vs_measured.png",
    "stealing_vs_accuracy.png",
    "mia_vs_overfitting.png",
    "adversarial_white_box.png",
    "adversarial_black_box.png",
    "backdoor_detection.png",
    "catalog_composition.png",
}


def assert_drawn(path: Path) -> None:
    """The PNG exists, has a sensible size and is not one flat colour (pixel variance above zero)."""
    assert path.exists(), f"{path.name} was not written"
    pixels = imread(path)
    assert pixels.shape[0] > 200 and pixels.shape[1] > 300, pixels.shape
    gray = pixels[..., :3].mean(axis=2)
    assert gray.std() > 0.02, f"{path.name} looks blank (pixel std {gray.std():.4f})"
    assert (gray < 0.5).mean() > 0.002, f"{path.name} has almost no dark pixels (no marks drawn)"


def test_epsilon_label():
    assert report.epsilon_label(8 / 255) == "ε = 8/255"
    assert report.epsilon_label(0.05) == "ε = 0.05"
    assert report.epsilon_label(None) == "ε n/a"


def test_pearson_r_follows_the_views_rule():
    assert report.pearson_r([1, 2], [1, 2]) is None  # below 3 models
    assert report.pearson_r([1, 1, 1], [1, 2, 3]) is None  # constant side
    assert report.pearson_r([1, 2, 3], [2, 4, 6.5]) == pytest.approx(np.corrcoef([1, 2, 3], [2, 4, 6.5])[0, 1])


def test_report_from_a_small_warehouse(settings, tmp_path: Path, capsys):
    con = warehouse.connect(settings)
    report_warehouse.fill(con)
    con.close()
    out = tmp_path / "report"
    assert cli.main(["report", "--out", str(out)]) == 0
    assert "index.html" in capsys.readouterr().out

    assert {p.name for p in out.glob("*.png")} == FIGURES
    for name in FIGURES:
        assert_drawn(out / name)
    page = (out / "index.html").read_text()
    for name in FIGURES:
        assert f"src='{name}'" in page

    # n and r per group agree with the contract views (the figures pick points the way the views do)
    con = warehouse.connect(settings, read_only=True)
    figures = {f.file: f for f in report.build(con, tmp_path / "again")}
    stealing = {(g["panel"], g["series"]): g for g in figures["stealing_vs_accuracy.png"].groups}
    for dataset, origin, n, r in con.execute(
        "SELECT dataset, origin, n_models, pearson_r FROM analytics.stealing_vs_accuracy"
    ).fetchall():
        group = stealing[(dataset, origin)]
        assert group["n"] == n and (group["r"] is None) == (r is None)
        if r is not None:
            assert group["r"] == pytest.approx(r)
    mia = {(g["panel"], g["series"]): g for g in figures["mia_vs_overfitting.png"].groups}
    for dataset, origin, n, r in con.execute(
        "SELECT dataset, origin, n_models, pearson_r_m_entropy FROM analytics.mia_vs_overfitting"
    ).fetchall():
        group = mia[(dataset, f"{origin} · M-entropy")]
        assert group["n"] == n and group["r"] == pytest.approx(r)
    white = figures["adversarial_white_box.png"].groups
    assert sorted({g["panel"] for g in white}) == ["ε = 2/255", "ε = 8/255"]
    for dataset, setting, eps, origin, n, r in con.execute(
        "SELECT dataset, setting, epsilon, origin, n_models, pearson_r FROM analytics.adversarial_vs_accuracy"
    ).fetchall():
        group = next(
            g
            for g in figures[f"adversarial_{setting.split('-')[0]}_box.png"].groups
            if g["panel"] == report.epsilon_label(eps) and g["series"] == f"{origin} · {setting} · {dataset}"
        )
        assert group["n"] == n
        assert (group["r"] is None and r is None) or group["r"] == pytest.approx(r)
    composition = {g["panel"]: g["n"] for g in figures["catalog_composition.png"].groups}
    assert composition == {"sources": 8, "datasets": 8, "architecture families": 8, "purposes": 8, "years": 8}
    assert "neural_cleanse" in page and "analytics.backdoor_detection: 4 rows" in page


def test_report_of_an_empty_warehouse_says_so(settings, tmp_path: Path):
    con = warehouse.connect(settings)
    warehouse.apply_sql(con, "views")
    figures = report.build(con, tmp_path / "empty")
    for f in figures:
        assert_drawn(tmp_path / "empty" / f.file)  # a figure that says "no ... yet", not a blank file
        assert f.groups == []
    assert "no data yet" in (tmp_path / "empty" / "index.html").read_text()
