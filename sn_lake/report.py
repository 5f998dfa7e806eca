"""``sn-lake report``: the study's figures and tables as PNG files and one HTML page, from the warehouse.

Every figure keeps published figures (``origin = 'published:...'``, hollow markers) and our own
measurements (``origin = 'computed'``, filled markers) apart, and states n (models) and Pearson's r
(NULL, shown as "r n/a", below 3 models, as in the analytics views) for each group it draws. The report
reads only the ``analytics.*`` views and the queries of ``sql/queries/report_*.sql``, which select the
per-model points the way the view of the same question selects them; r is the views' own
``analytics.pearson_r``. The page shows that view's rows under each figure.
"""

from __future__ import annotations

import functools
import html
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sn_lake.config import SQL_DIR

COMPUTED = "computed"
MAX_PANELS = 6  # datasets (or epsilons) per figure; the page's tables hold the rest
TOP_CATEGORIES = 12  # bars per catalog-composition panel; the rest are summed as "other"
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]

# The catalog-composition panels, in the order drawn (sql/queries/report_composition.sql counts each).
COMPOSITION_FACETS = ("sources", "datasets", "architecture families", "purposes", "years")


def query(name: str) -> str:
    """The text of ``sql/queries/<name>.sql``: the report's queries live there, beside the views they follow."""
    return (SQL_DIR / "queries" / f"{name}.sql").read_text(encoding="utf8")


@dataclass
class ReportFigure:
    """One PNG of the report and what the page says about it."""

    file: str
    title: str
    caption: str
    view: str | None = None  # the analytics view whose rows the page shows under the figure
    states_r: bool = True  # False for counts and rates, where no correlation is drawn
    groups: list[dict] = field(default_factory=list)  # panel, series, n, r per drawn group


def pearson_r(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r by the views' own rule: ``analytics.pearson_r`` of ``sql/views/00_macros.sql`` (None below 3
    points or when either side is constant), run by DuckDB on the points."""
    if len(xs) != len(ys):
        raise ValueError(f"Expected as many x as y values, found {len(xs)} and {len(ys)}: pass (x, y) pairs.")
    (r,) = (
        _statistics()
        .execute(
            "SELECT analytics.pearson_r(x, y) FROM (SELECT unnest(?::DOUBLE[]) AS x, unnest(?::DOUBLE[]) AS y)",
            [list(xs), list(ys)],
        )
        .fetchone()
    )
    return r


@functools.lru_cache(maxsize=1)
def _statistics() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the views' statistics macros (the warehouse connection may be read-only)."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA analytics")
    con.execute((SQL_DIR / "views" / "00_macros.sql").read_text(encoding="utf8"))
    return con


def epsilon_label(epsilon: float | None) -> str:
    """``ε = 8/255`` for budgets on the 1/255 grid images are usually stated in, else ``ε = 0.05``."""
    if epsilon is None:
        return "ε n/a"
    steps = epsilon * 255
    return f"ε = {round(steps)}/255" if abs(steps - round(steps)) < 1e-6 else f"ε = {epsilon:.4g}"


def _r_text(r: float | None) -> str:
    return "r n/a" if r is None else f"r={r:.2f}"


def _style(series: str, index: int) -> dict:
    """Filled markers for computed results, hollow ones for published figures; one colour per series."""
    color = COLORS[index % len(COLORS)]
    published = not series.startswith(COMPUTED)
    marker = "^" if published else "o"
    if "correctness" in series:
        marker = "s"
    return {
        "marker": marker,
        "edgecolors": color,
        "facecolors": "none" if published else color,
        "s": 28,
        "linewidths": 1.2,
    }


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110)


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, textwrap.fill(text, 40), ha="center", va="center", fontsize=11, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor("#999999")


def scatter_figure(
    rows: Sequence[tuple],
    path: Path,
    title: str,
    xlabel: str,
    ylabel: str,
    empty_text: str,
    panel_order: Sequence[str] | None = None,
) -> list[dict]:
    """Scatter ``(panel, series, x, y)`` rows, one panel per ``panel`` value; returns n and r per (panel, series)."""
    by_panel: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for panel, series, x, y in rows:
        by_panel.setdefault(panel or "unknown dataset", {}).setdefault(series, []).append((float(x), float(y)))
    panels = list(panel_order or sorted(by_panel, key=lambda p: (-sum(map(len, by_panel[p].values())), p)))[:MAX_PANELS]
    all_series = sorted({s for p in by_panel.values() for s in p}, key=lambda s: (not s.startswith(COMPUTED), s))
    columns = min(3, max(1, len(panels)))
    n_rows = max(1, math.ceil(len(panels) / columns))
    fig = Figure(
        figsize=(max(8.0, 4.6 * columns), 3.9 * n_rows + 0.6), layout="constrained"
    )  # wide enough for the title
    fig.suptitle(title, fontsize=12)
    groups = []
    if not panels:
        _empty(fig.add_subplot(1, 1, 1), empty_text)
    for i, panel in enumerate(panels):
        ax = fig.add_subplot(n_rows, columns, i + 1)
        for series in all_series:
            points = sorted(by_panel[panel].get(series) or [])  # a fixed order: r does not depend on the row order
            if not points:
                continue
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            r = pearson_r(xs, ys)
            groups.append({"panel": panel, "series": series, "n": len(points), "r": r})
            ax.scatter(
                xs, ys, label=f"{series} (n={len(points)}, {_r_text(r)})", **_style(series, all_series.index(series))
            )
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    _save(fig, path)
    return groups


def backdoor_figure(rows: Sequence[tuple], path: Path) -> list[dict]:
    """False-positive rate with its Wilson 95% interval, and the true-positive rate, per detector, dataset, origin."""
    fig = Figure(figsize=(8, 0.9 + 0.45 * max(3, len(rows))), layout="constrained")
    fig.suptitle("Backdoor detection (Table 1): false-positive rate with 95% Wilson interval", fontsize=12)
    ax = fig.add_subplot(1, 1, 1)
    groups = []
    if not rows:
        _empty(ax, "no rows in results.backdoor_detection yet")
        _save(fig, path)
        return groups
    labels = []
    for i, (detector, dataset, origin, n, _n_flagged, fpr, low, high, tpr) in enumerate(rows):
        labels.append(f"{detector} · {dataset or 'unknown'} · {origin} (n={n})")
        style = _style(origin, 0 if origin == COMPUTED else 1)
        if fpr is not None:
            # the interval's bounds can miss the rate by a rounding error when it is 0 or 1
            xerr = [[max(0.0, fpr - low)], [max(0.0, high - fpr)]] if low is not None and high is not None else None
            ax.errorbar([fpr], [i], xerr=xerr, fmt="none", ecolor=style["edgecolors"], capsize=4)
            ax.scatter([fpr], [i], label="false-positive rate" if i == 0 else None, **style)
        if tpr is not None:
            ax.scatter([tpr], [i], marker="x", color="#333333", label="true-positive rate (known backdoors)")
        groups.append({"panel": detector, "series": f"{dataset} · {origin}", "n": n, "r": None})
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("rate (fraction of models)")
    ax.grid(alpha=0.3, axis="x")
    handles, names = ax.get_legend_handles_labels()
    unique = dict(zip(names, handles, strict=True))
    # below the axes: the rates sit at either end of the axis, where a legend inside would hide them
    ax.legend(
        unique.values(),
        unique.keys(),
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.3),
        ncol=2,
        frameon=False,
    )
    _save(fig, path)
    return groups


def composition_figure(counts: dict[str, list[tuple[str, int]]], path: Path) -> list[dict]:
    """Bars of the catalog's models per source, dataset, family, purpose and year."""
    fig = Figure(figsize=(15, 8.5), layout="constrained")
    total = sum(n for _, n in counts["sources"])
    fig.suptitle(f"Catalog composition (n={total} models in catalog.models)", fontsize=12)
    groups = []
    for i, (name, rows) in enumerate(counts.items()):
        ax = fig.add_subplot(2, 3, i + 1)
        if not rows:
            _empty(ax, "catalog.models is empty")
            ax.set_title(name)
            continue
        if name == "years":
            rows = sorted(rows, key=lambda r: (r[0] == "unknown", r[0]))
        else:
            rows = sorted(rows, key=lambda r: (-r[1], r[0]))
        if len(rows) > TOP_CATEGORIES:
            rows = rows[: TOP_CATEGORIES - 1] + [("other", sum(n for _, n in rows[TOP_CATEGORIES - 1 :]))]
        labels, values = [r[0] for r in rows], [r[1] for r in rows]
        if name == "years":
            ax.bar(labels, values, color=COLORS[i % len(COLORS)])
            ax.tick_params(axis="x", labelrotation=60, labelsize=7)
        else:
            ax.barh(labels[::-1], values[::-1], color=COLORS[i % len(COLORS)])
            ax.tick_params(axis="y", labelsize=8)
        ax.set_title(f"{name} (n={sum(values)})", fontsize=10)
        ax.set_xlabel("models" if name != "years" else "year")
        groups.append({"panel": name, "series": "catalog", "n": sum(values), "r": None})
    _save(fig, path)
    return groups


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence = ()) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def _view_table(con: duckdb.DuckDBPyConnection, view: str) -> str:
    """The rows of an analytics view as an HTML table (or a note that the view is missing)."""
    try:
        cursor = con.execute(f"SELECT * FROM {view}")
    except duckdb.CatalogException:
        return f"<p class=note>{html.escape(view)} does not exist yet: materialize analytics_views.</p>"
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()

    def cell(v) -> str:
        if v is None:
            return "<td class=null>NULL</td>"
        return f"<td>{v:.3f}</td>" if isinstance(v, float) else f"<td>{html.escape(str(v))}</td>"

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f"<p class=note>{html.escape(view)}: {len(rows)} rows</p><table><tr>{head}</tr>{body}</table>"


def build(con: duckdb.DuckDBPyConnection, out_dir: Path) -> list[ReportFigure]:
    """Write every figure and ``index.html`` into ``out_dir``; returns what was drawn."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = []

    f = ReportFigure(
        "stealing_vs_accuracy.png",
        "Model stealing vs task accuracy (Figures 5 and 9)",
        "Each point is one model: its test accuracy and the accuracy of a surrogate stolen from it "
        "(primary stealing configuration).",
        "analytics.stealing_vs_accuracy",
    )
    f.groups = scatter_figure(
        _rows(con, query("report_stealing_points")),
        out_dir / f.file,
        f.title,
        "test accuracy",
        "stealing accuracy",
        "no model has both a task accuracy and a stealing result yet",
    )
    figures.append(f)

    f = ReportFigure(
        "mia_vs_overfitting.png",
        "Membership inference vs overfitting (Figure 15)",
        "Each point is one model and attack: train minus test accuracy against the attack's AUC "
        "(circles: M-entropy, squares: correctness).",
        "analytics.mia_vs_overfitting",
    )
    f.groups = scatter_figure(
        _rows(con, query("report_mia_points")),
        out_dir / f.file,
        f.title,
        "overfitting gap (train − test accuracy)",
        "membership-inference AUC",
        "no model has both an overfitting gap and a membership-inference AUC yet",
    )
    figures.append(f)

    for setting, pattern, number in (("white-box", "white%", "20"), ("black-box", "black%", "21")):
        f = ReportFigure(
            f"adversarial_{setting.replace('-', '_')}.png",
            f"Accuracy drop vs accuracy under {setting} attacks, per ε (Figure {number})",
            f"Each point is one model, {setting} setting and ε: clean accuracy against the drop in accuracy "
            "under attack (the strongest attack of that setting).",
            "analytics.adversarial_vs_accuracy",
        )
        rows = [(epsilon_label(eps), *rest) for eps, *rest in _rows(con, query("report_adversarial_points"), [pattern])]
        order = list(dict.fromkeys(r[0] for r in rows))
        f.groups = scatter_figure(
            rows,
            out_dir / f.file,
            f.title,
            "clean accuracy",
            "accuracy drop",
            f"no {setting} adversarial results yet",
            panel_order=order,
        )
        figures.append(f)

    f = ReportFigure(
        "backdoor_detection.png",
        "Backdoor detection (Table 1)",
        "False-positive rate over models not known to be backdoored, with its Wilson 95% interval; "
        "true-positive rate over models known to be.",
        "analytics.backdoor_detection",
        states_r=False,
    )
    try:
        rows = _rows(
            con,
            "SELECT detector, dataset, origin, n_models, n_flagged, false_positive_rate, fpr_ci_low, "
            "fpr_ci_high, true_positive_rate FROM analytics.backdoor_detection",
        )
    except duckdb.CatalogException:
        rows = []
    f.groups = backdoor_figure(rows, out_dir / f.file)
    figures.append(f)
    figures += published_figures(con, out_dir)

    f = ReportFigure(
        "catalog_composition.png",
        "Catalog composition",
        "Models per source, dataset, architecture family, purpose and year (the paper's year, else the "
        "year the publisher created the model).",
        "analytics.catalog_summary",
        states_r=False,
    )
    counts: dict[str, list[tuple[str, int]]] = {facet: [] for facet in COMPOSITION_FACETS}
    for facet, label, n in _rows(con, query("report_composition")):
        counts[facet].append((label, n))
    f.groups = composition_figure(counts, out_dir / f.file)
    figures.append(f)

    write_page(con, out_dir, figures)
    return figures


def _view_rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    """Rows of a query on an analytics view; none while the view does not exist yet."""
    try:
        return _rows(con, sql)
    except duckdb.CatalogException:
        return []


def published_figures(con: duckdb.DuckDBPyConnection, out_dir: Path) -> list[ReportFigure]:
    """The RobustBench panel (clean against robust accuracy) and the reported-against-measured panel, from the views."""
    out_dir.mkdir(parents=True, exist_ok=True)
    f = ReportFigure(
        "robustness_vs_accuracy.png",
        "Robust vs clean accuracy per dataset and threat model (RobustBench)",
        "Each point is one model: its clean accuracy against its worst-case robust accuracy at that norm "
        "and ε (RobustBench: AutoAttack; a paper's own claim is not a point).",
        "analytics.robustness_vs_accuracy",
    )
    points = _view_rows(
        con,
        "SELECT dataset, norm, epsilon, origin, clean_accuracy, robust_accuracy "
        "FROM analytics.robustness_points ORDER BY dataset, norm, epsilon, origin, model_id",
    )
    rows = [
        (
            f"{dataset or 'unknown'} · {norm or 'norm n/a'}",
            f"{origin} · {epsilon_label(eps) if norm != 'L2' or eps is None else f'ε = {eps:g}'}",
            x,
            y,
        )
        for dataset, norm, eps, origin, x, y in points
    ]
    f.groups = scatter_figure(
        rows,
        out_dir / f.file,
        f.title,
        "clean accuracy",
        "robust accuracy",
        "no adversarial results with a norm yet (crawl robustbench or evaluate a model)",
    )
    figures = [f]

    f = ReportFigure(
        "reported_vs_measured.png",
        "Reported vs measured, per metric",
        "Each point is one model and pair of figures: what was claimed (model card, paper, published "
        "table) against what another origin measured; on the diagonal the claim holds. "
        "analytics.reported_vs_measured lists every pair with its gap.",
    )
    pairs = _view_rows(
        con,
        "SELECT metric, claimed_origin, claimed_figure, measured_origin, measured_figure, measured, "
        "claimed FROM analytics.reported_vs_measured ORDER BY metric, model_id",
    )
    rows = [
        (metric.replace("_", " "), f"{c_origin} ({c_fig}) vs {m_origin} ({m_fig})", x, y)
        for metric, c_origin, c_fig, m_origin, m_fig, x, y in pairs
    ]
    f.groups = scatter_figure(
        rows,
        out_dir / f.file,
        f.title,
        "measured",
        "claimed",
        "no model has a claim beside another origin's figure yet",
    )
    return [*figures, f]


def write_page(con: duckdb.DuckDBPyConnection, out_dir: Path, figures: Sequence[ReportFigure]) -> Path:
    """``index.html``: every figure, its n and r per group, and the view it answers."""
    sections = []
    for f in figures:
        stated = (
            "; ".join(
                f"{g['panel']} · {g['series']}: n={g['n']}" + (f", {_r_text(g['r'])}" if f.states_r else "")
                for g in f.groups
            )
            or "no data yet"
        )
        sections.append(
            f"<section><h2>{html.escape(f.title)}</h2><img src='{html.escape(f.file)}' alt='{html.escape(f.title)}'>"
            f"<p>{html.escape(f.caption)}</p><p class=note>{html.escape(stated)}</p>"
            + (_view_table(con, f.view) if f.view else "")
            + "</section>"
        )
    page = f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>sn_lake report</title>
<style>body{{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em}}\
img{{max-width:100%;border:1px solid #ddd}}
table{{border-collapse:collapse;font-size:12px;margin:0.5em 0 2em}}td,th{{border:1px solid #ccc;padding:2px 6px}}
.null{{color:#999}}.note{{color:#555;font-size:13px}}</style></head><body>
<h1>sn_lake report</h1>
<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the warehouse. \
Filled markers and <code>origin = computed</code>
are our own measurements; hollow markers and <code>origin = published:…</code> are figures a study published. n counts
models; r is Pearson's r, "n/a" below 3 models or when a side is constant. Accuracies, AUCs and rates are fractions.</p>
{"".join(sections)}
</body></html>
"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf8")
    return path
