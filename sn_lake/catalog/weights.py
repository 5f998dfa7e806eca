"""``catalog.weight_files``: each model matched to the files behind its GitHub or Zenodo link (the weights source's
catalog builder), and :func:`catalog_links`, the links its crawl (``sn_lake.sources.weights.crawl``) is asked about.

One row per (model, file), or one row with ``status`` saying honestly why there is no file (``no_weight_files``,
``not_found``, ``ambiguous``, ``unsupported_host``, ``not_fetched``). ``format`` comes from the file name and, where
the crawl read the first bytes, from the bytes (``sn_lake.weight_formats``).
"""

from __future__ import annotations

import json
import re

import duckdb
import polars as pl

from sn_lake import catalog, lake, warehouse
from sn_lake.config import Settings
from sn_lake.sources.weights import SOURCE
from sn_lake.sources.weights.parse import Link, files_of, parse_link
from sn_lake.weight_formats import format_from_bytes, format_from_name, split_archive

MAX_CANDIDATES = 20  # a link with more unmatched weight files than this is "ambiguous", not a list

LINKS_SQL = "SELECT DISTINCT weights_url FROM catalog.models WHERE weights_url IS NOT NULL ORDER BY 1"


def catalog_links(settings: Settings) -> list[str]:
    """The distinct weights URLs of catalog.models that point at GitHub or Zenodo (read-only; waits for a writer)."""
    if not warehouse.exists(settings):
        return []
    return [url for (url,) in warehouse.read_when_free(settings, LINKS_SQL) if parse_link(url)]


WEIGHT_FILE_SCHEMA = {
    "model_id": pl.String, "url": pl.String, "filename": pl.String, "size_bytes": pl.Int64, "checksum": pl.String,
    "format": pl.String, "format_from": pl.String, "compression": pl.String, "origin": pl.String,
    "matched_by": pl.String, "status": pl.String, "detail": pl.String, "weights_url": pl.String,
    "fetched_at": pl.Datetime("us", "UTC"),
}  # fmt: skip


def _key(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "", (text or "").lower())


def _stem(filename: str) -> str:
    inner, _ = split_archive(filename)
    return re.split(r"[-.]", inner, maxsplit=1)[0] if "-" in inner else inner.rsplit(".", 1)[0]


def match_files(name: str | None, dataset: str | None, files: list[dict], link: Link) -> tuple[list[dict], str]:
    """The files of a link that hold one model's weights, and how they were matched.

    In order: the file named like the model (``resnet18_acs_1.pth``; ``resnet18-0477-cd27a4a1.pth.zip``
    for ``resnet18``), a ``/blob/`` link's own file, the files naming the model's dataset, the only
    weight file of the link, every weight file of the link (at most :data:`MAX_CANDIDATES`).
    """
    by_name = [f for f in files if _key(f["filename"]) == _key(name) or _key(_stem(f["filename"])) == _key(name)]
    if name and by_name:
        return by_name, "name"
    if link.path:
        exact = [f for f in files if link.path.endswith(f["filename"])]
        if exact and len(exact) == 1 and "." in link.path.rsplit("/", 1)[-1]:
            return exact, "link"
    by_dataset = [f for f in files if dataset and _key(dataset) in _key(f["filename"])]
    if by_dataset:
        return by_dataset, "dataset"
    if len(files) == 1:
        return files, "only_file"
    return files, "all_files_of_link"


def build_rows(models: pl.DataFrame, raw: pl.DataFrame) -> pl.DataFrame:
    """``catalog.weight_files`` rows for ``models`` (``model_id``, ``name``, ``dataset``, ``weights_url``) from the raw
    answers."""
    answers: dict[str, tuple[dict, object]] = {}  # link -> its newest answer, and when that was fetched
    if not raw.is_empty():
        for native_id, payload, fetched_at in (
            lake.latest_records(raw).select("native_id", "payload", "last_seen_at").iter_rows()
        ):
            answers[native_id] = (json.loads(payload), fetched_at)
    rows = []
    for model in models.iter_rows(named=True):
        base = {k: None for k in WEIGHT_FILE_SCHEMA} | {
            "model_id": model["model_id"],
            "weights_url": model["weights_url"],
        }
        link = parse_link(model["weights_url"])
        if link is None:
            rows.append(base | {"status": "unsupported_host", "detail": "only GitHub and Zenodo links are resolved"})
            continue
        if link.native_id not in answers:
            rows.append(
                base | {"status": "not_fetched", "detail": f"{link.host} has not been asked yet (or was unreachable)"}
            )
            continue
        answer, fetched_at = answers[link.native_id]
        base["fetched_at"] = fetched_at
        if answer["status"] != "ok":
            rows.append(base | {"status": answer["status"], "detail": f"{link.host} does not know {link.key}"})
            continue
        files = files_of(answer)
        matched, how = match_files(model["name"], model["dataset"], files, link)
        if not matched:
            rows.append(base | {"status": "no_weight_files", "detail": f"{link.native_id} lists no weight files"})
            continue
        if how == "all_files_of_link" and len(matched) > MAX_CANDIDATES:
            rows.append(
                base | {"status": "ambiguous", "detail": f"{len(matched)} weight files, none named like the model"}
            )
            continue
        heads = answer.get("heads") or {}
        for f in matched:
            head = bytes.fromhex(heads[f["url"]]) if heads.get(f["url"]) else None
            sniffed = (
                format_from_bytes(head, f["filename"]) if head and split_archive(f["filename"])[1] is None else None
            )
            rows.append(
                base
                | {
                    "url": f["url"],
                    "filename": f["filename"],
                    "size_bytes": f["size_bytes"],
                    "checksum": f["checksum"],
                    "format": sniffed or format_from_name(f["filename"]),
                    "format_from": "bytes" if sniffed else "name",
                    "compression": split_archive(f["filename"])[1],
                    "origin": f["origin"],
                    "matched_by": how,
                    "status": "found",
                }
            )
    return pl.DataFrame(rows, schema=WEIGHT_FILE_SCHEMA)


def build_weight_files(settings: Settings, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rebuild ``catalog.weight_files`` for every model whose weights URL points at GitHub or Zenodo."""
    models = pl.from_arrow(
        con.execute(
            "SELECT model_id, name, dataset, weights_url FROM catalog.models "
            "WHERE regexp_matches(weights_url, '^https?://(www\\.)?(github\\.com|(sandbox\\.)?zenodo\\.org)/') "
            "ORDER BY model_id"
        ).fetch_arrow_table()
    )
    rows = build_rows(models, lake.read_raw(settings, SOURCE))
    warehouse.replace_rows(con, "catalog.weight_files", rows, "true")
    catalog.record_crawls(settings, con, SOURCE)
    counts = rows.group_by("status").len().sort("status")
    return {"rows": rows.height, **dict(zip(counts["status"], counts["len"], strict=True))}
