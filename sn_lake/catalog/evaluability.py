"""``catalog.evaluability``: the evaluability rule (:mod:`sn_lake.evaluate.evaluability`) applied to every
catalog model, from what the lake already holds; then the failures recorded since, at the current revision.

The Hugging Face facts the rule needs (config ``architecture``/``architectures``/``auto_map``, the
``custom_code`` tag, ``safetensors.total``) are read from the listing records step file by step, so memory
stays one step plus a few fields per model.
"""

from __future__ import annotations

import json
from functools import lru_cache

import duckdb
import polars as pl

from sn_lake import lake, warehouse
from sn_lake.config import Settings
from sn_lake.evaluate import evaluability, results
from sn_lake.sources import huggingface
from sn_lake.sources.huggingface.parse import split_records

TABLE = "catalog.evaluability"
SCHEMA = {
    "model_id": pl.String,
    "revision": pl.String,
    "evaluable": pl.Boolean,
    "reason": pl.String,
    "loader": pl.String,
    "dataset_repo": pl.String,
    "checked_at": pl.Datetime("us", "UTC"),
}


@lru_cache(maxsize=1)
def timm_architectures() -> frozenset[str]:
    """Every architecture the installed timm can build (imports timm, and so torch: called once per process)."""
    import timm

    return frozenset(timm.list_models())


def _listing_facts(listing: dict) -> dict:
    config = listing.get("config") if isinstance(listing.get("config"), dict) else {}
    architectures = config.get("architectures")
    architectures = (
        tuple(str(a) for a in architectures if isinstance(a, str)) if isinstance(architectures, list) else ()
    )
    architecture = config.get("architecture") if isinstance(config.get("architecture"), str) else None
    tags = listing.get("tags") if isinstance(listing.get("tags"), list) else []
    weights = listing.get("safetensors") if isinstance(listing.get("safetensors"), dict) else {}
    total = weights.get("total")
    return {
        "architecture": architecture,
        "architectures": architectures,
        "remote_code": bool(config.get("auto_map")) or "custom_code" in tags,
        "n_parameters": total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else None,
    }


def huggingface_facts(settings: Settings) -> dict[str, dict]:
    """``model_id -> facts`` from each listed model's latest listing record."""
    latest: dict[str, tuple] = {}
    for step in lake.iter_steps(settings, huggingface.SOURCE):
        listings, _ = split_records(step)
        for native_id, fetched_at, payload in listings.select("native_id", "fetched_at", "payload").iter_rows():
            if native_id in latest and latest[native_id][0] > fetched_at:
                continue
            try:
                listing = json.loads(payload)
            except ValueError:
                continue
            if isinstance(listing, dict):
                latest[native_id] = (fetched_at, _listing_facts(listing))
    return {f"{huggingface.SOURCE}:{native}": facts for native, (_, facts) in latest.items()}


def verdicts(settings: Settings, models: pl.DataFrame) -> pl.DataFrame:
    """One row per catalog model: the rule's verdict, then any failure recorded at the model's current revision."""
    hub = huggingface_facts(settings) if (models["source"] == huggingface.SOURCE).any() else {}
    needs_timm = models.filter(pl.col("source").is_in(["huggingface", "local", "kaggle"])).height > 0
    known = timm_architectures() if needs_timm else frozenset()
    checked_at = lake.utcnow()
    rows = []
    for m in models.iter_rows(named=True):
        facts = hub.get(m["model_id"], {})
        architecture = facts.get("architecture") if m["source"] == huggingface.SOURCE else m["architecture"]
        candidate = evaluability.Candidate(
            model_id=m["model_id"],
            source=m["source"],
            library=m["library"],
            architecture=architecture,
            architectures=facts.get("architectures", ()),
            remote_code=facts.get("remote_code", False),
            has_safetensors=m["has_safetensors"],
            n_parameters=facts.get("n_parameters"),
            dataset=m["dataset"],
            dataset_note=m["dataset_note"],
        )
        verdict = evaluability.decide(
            candidate,
            timm_architectures=known,
            max_parameters=settings.max_parameters,
            has_token=bool(settings.hf_token),
        )
        rows.append(
            {
                "model_id": m["model_id"],
                "revision": m["revision"],
                "evaluable": verdict.evaluable,
                "reason": verdict.reason,
                "loader": verdict.loader,
                "dataset_repo": verdict.dataset_repo,
                "checked_at": checked_at,
            }
        )
    frame = pl.DataFrame(rows, schema=SCHEMA)
    return with_failures(frame, results.failures(settings))


def with_failures(frame: pl.DataFrame, failed: pl.DataFrame) -> pl.DataFrame:
    """Models whose evaluation failed at their current revision become not evaluable, with that failure's reason."""
    if failed.is_empty() or frame.is_empty():
        return frame
    latest = (
        failed.sort("failed_at")
        .group_by("model_id")
        .agg(pl.col("revision").last().alias("failed_revision"), pl.col("reason").last().alias("failure"))
    )
    joined = frame.join(latest, on="model_id", how="left")
    hit = pl.col("failure").is_not_null() & (
        pl.col("failed_revision").is_null()
        | pl.col("revision").is_null()
        | (pl.col("failed_revision") == pl.col("revision"))
    )
    return joined.with_columns(
        pl.when(hit).then(False).otherwise(pl.col("evaluable")).alias("evaluable"),
        pl.when(hit)
        .then(pl.lit("evaluation failed: ") + pl.col("failure"))
        .otherwise(pl.col("reason"))
        .alias("reason"),
    ).select(list(SCHEMA))


def build(settings: Settings, con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``catalog.evaluability`` for every catalog model; returns its rows."""
    models = con.execute(
        "SELECT model_id, source, revision, library, architecture, dataset, dataset_note, has_safetensors "
        "FROM catalog.models ORDER BY model_id"
    ).pl()
    return warehouse.replace_rows(con, TABLE, verdicts(settings, models), "true")


def apply_failures(settings: Settings, con: duckdb.DuckDBPyConnection) -> int:
    """Bring ``catalog.evaluability`` up to date with the failures recorded since the catalog was built."""
    current = con.execute(f"SELECT * FROM {TABLE}").pl()
    if current.is_empty():
        return 0
    updated = with_failures(
        current.with_columns(pl.col("checked_at").dt.convert_time_zone("UTC")), results.failures(settings)
    )
    return warehouse.replace_rows(con, TABLE, updated, "true")
