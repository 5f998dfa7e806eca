"""Model search: find "my next model" in the catalog by dataset, family, purpose, accuracy, year...

Every filter value travels as a query parameter, never as SQL text: a value such as
``x' OR 1=1 --`` is just a string no model has. Sort keys come from a fixed list.

A model's *measured* accuracy is its mean test accuracy in ``results.task_accuracy`` (our own
evaluation when there is one, else published figures); its *reported* accuracy is what the publisher
states (``catalog.models.reported_accuracy``). Its year is its paper's year, else the year it was
created on its hub. Its *robust* accuracy under a threat model (``Linf``, ``L2``) is the worst case over
every attack (a paper's own claim, attack ``reported``, is no measurement) at the largest budget it was
evaluated at; under ``corruptions`` it is the mean accuracy over a corruption benchmark (not 3DCC). Without
``--threat-model`` the best of its threat models counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from sn_lake import warehouse

# sort key -> ORDER BY expression (a fixed list: user input never becomes SQL)
SORTS = {
    "accuracy": "coalesce(measured_accuracy, reported_accuracy) DESC NULLS LAST",
    "measured_accuracy": "measured_accuracy DESC NULLS LAST",
    "reported_accuracy": "reported_accuracy DESC NULLS LAST",
    "downloads": "downloads DESC NULLS LAST",
    "likes": "likes DESC NULLS LAST",
    "year": "year DESC NULLS LAST",
    "newest": "first_seen_at DESC",
    "name": "name",
    "robust_accuracy": "robust_accuracy DESC NULLS LAST",
}
THREAT_MODELS = ("Linf", "L2", "corruptions")

COLUMNS = [
    "model_id",
    "source",
    "name",
    "architecture",
    "model_type",
    "dataset",
    "data_category",
    "purpose",
    "license",
    "year",
    "reported_accuracy",
    "measured_accuracy",
    "loadable_weights",
    "downloads",
    "likes",
    "weights_url",
    "robust_accuracy",
]

BASE = """
WITH measured AS (
    SELECT model_id,
           coalesce(avg(test_accuracy) FILTER (WHERE origin = 'computed'), avg(test_accuracy)) AS measured_accuracy
    FROM results.task_accuracy
    GROUP BY model_id
),
robust_at_budget AS (
    SELECT model_id, norm, epsilon, robust_accuracy, max(epsilon) OVER (PARTITION BY model_id, norm) AS largest
    FROM results.adversarial
    WHERE attack <> 'reported' AND norm IS NOT NULL AND robust_accuracy IS NOT NULL
),
robust AS (
    SELECT model_id, norm AS threat_model, min(robust_accuracy) AS robust_accuracy
    FROM robust_at_budget WHERE epsilon IS NOT DISTINCT FROM largest GROUP BY model_id, norm
    UNION ALL
    SELECT model_id, 'corruptions', coalesce(avg(accuracy) FILTER (WHERE corruption = 'all'), avg(accuracy))
    FROM results.corruption
    WHERE accuracy IS NOT NULL AND coalesce(benchmark, '') NOT LIKE '%3dcc'
    GROUP BY model_id
),
robust_chosen AS (  -- parameter: the threat model, NULL for any
    SELECT model_id, max(robust_accuracy) AS robust_accuracy
    FROM robust WHERE CAST(? AS VARCHAR) IS NULL OR threat_model = CAST(? AS VARCHAR)
    GROUP BY model_id
),
found AS (
    SELECT m.model_id, m.source, m.name, m.architecture, m.model_type, m.dataset, m.data_category, m.purpose,
           m.license, coalesce(p.year, year(m.created_at)) AS year, m.reported_accuracy, e.measured_accuracy,
           analytics.has_loadable_weights(m.has_safetensors, m.library, m.weights_url) AS loadable_weights,
           m.downloads, m.likes, m.weights_url, m.first_seen_at, r.robust_accuracy
    FROM catalog.models m
    LEFT JOIN measured e USING (model_id)
    LEFT JOIN robust_chosen r USING (model_id)
    LEFT JOIN catalog.papers p USING (paper_id)
)
SELECT {columns} FROM found
"""


class SearchError(ValueError):
    """A search could not run: a bad filter value or a warehouse without the catalog."""


@dataclass(frozen=True)
class Filters:
    """What to look for; ``None`` means "any"."""

    dataset: str | None = None
    data_category: str | None = None
    family: str | None = None  # architecture family (catalog.models.model_type), e.g. resnet
    purpose: str | None = None
    source: str | None = None
    min_accuracy: float | None = None  # the reported or the measured accuracy reaches it
    year_from: int | None = None
    year_to: int | None = None
    license: str | None = None
    loadable_weights: bool | None = None
    text: str | None = None  # appears in the model id (case-insensitive, taken literally)
    descends_from: str | None = None  # an ancestor in analytics.model_lineage: a catalog id, or a bare Hub repo id
    min_robust_accuracy: float | None = None  # robust accuracy (see the module docstring) reaches it
    threat_model: str | None = None  # Linf, L2 or corruptions: evaluated under it
    sort: str = "accuracy"
    limit: int = 20


def build_query(filters: Filters) -> tuple[str, list]:
    """The SQL text and its parameters for ``filters``."""
    if filters.sort not in SORTS:
        raise SearchError(f"Expected a sort key among {sorted(SORTS)}, found {filters.sort!r}: pick one of those.")
    if filters.limit < 1:
        raise SearchError(f"Expected a limit of at least 1, found {filters.limit}: ask for one or more models.")
    if filters.min_accuracy is not None and not 0 <= filters.min_accuracy <= 1:
        raise SearchError(
            f"Expected the minimum accuracy as a fraction in [0, 1], found {filters.min_accuracy}: e.g. 0.8 for 80%."
        )
    threat_model = None
    if filters.threat_model is not None:
        threat_model = {t.lower(): t for t in THREAT_MODELS}.get(filters.threat_model.strip().lower())
        if threat_model is None:
            raise SearchError(
                f"Expected a threat model among {', '.join(THREAT_MODELS)}, found "
                f"{filters.threat_model!r}: pick one of those."
            )
    if filters.min_robust_accuracy is not None and not 0 <= filters.min_robust_accuracy <= 1:
        raise SearchError(
            f"Expected the minimum robust accuracy as a fraction in [0, 1], found "
            f"{filters.min_robust_accuracy}: e.g. 0.5 for 50%."
        )
    where, params = [], [threat_model, threat_model]  # the first two fill robust_chosen

    def equals(column: str, value) -> None:
        if value is not None:
            where.append(f"lower({column}) = lower(?)")
            params.append(value)

    equals("dataset", filters.dataset)
    equals("data_category", filters.data_category)
    equals("model_type", filters.family)
    equals("purpose", filters.purpose)
    equals("source", filters.source)
    equals("license", filters.license)
    if filters.min_accuracy is not None:
        where.append("(reported_accuracy >= ? OR measured_accuracy >= ?)")
        params += [filters.min_accuracy, filters.min_accuracy]
    if filters.year_from is not None:
        where.append("year >= ?")
        params.append(filters.year_from)
    if filters.year_to is not None:
        where.append("year <= ?")
        params.append(filters.year_to)
    if filters.loadable_weights is not None:
        where.append("loadable_weights = ?")
        params.append(filters.loadable_weights)
    if filters.text:
        where.append("contains(lower(model_id), lower(?))")
        params.append(filters.text)
    if filters.descends_from:
        ancestor = filters.descends_from.strip()
        ancestor = ancestor if ":" in ancestor else f"huggingface:{ancestor}"  # a bare Hub repo id
        where.append("model_id IN (SELECT model_id FROM analytics.model_lineage WHERE lower(ancestor_id) = lower(?))")
        params.append(ancestor)
    if threat_model is not None or filters.min_robust_accuracy is not None:
        where.append("robust_accuracy IS NOT NULL")
    if filters.min_robust_accuracy is not None:
        where.append("robust_accuracy >= ?")
        params.append(filters.min_robust_accuracy)
    sql = BASE.format(columns=", ".join(COLUMNS))
    if where:
        sql += "WHERE " + "\n  AND ".join(where) + "\n"
    sql += f"ORDER BY {SORTS[filters.sort]}, model_id\nLIMIT ?"
    params.append(filters.limit)
    return sql, params


def search(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[list[str], list[tuple]]:
    """The models matching ``filters``: column names and rows."""
    sql, params = build_query(filters)
    try:
        return warehouse.query(con, sql, params)
    except duckdb.CatalogException as exc:
        raise SearchError(
            f"Expected a warehouse with the catalog and the analytics macros, found it incomplete ({exc}): "
            "run `sn-lake run` first."
        ) from exc


def evaluable_models(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Ids of catalog models the evaluation can load, by ``catalog.evaluability``'s verdict.

    The verdict's rules are in sn_lake.evaluate.evaluability.
    """
    _, rows = warehouse.query(
        con,
        "SELECT e.model_id FROM catalog.evaluability e JOIN catalog.models m USING (model_id)"
        " WHERE e.evaluable ORDER BY m.downloads DESC NULLS LAST, e.model_id",
    )
    return [r[0] for r in rows]
