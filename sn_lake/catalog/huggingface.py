"""Hugging Face's raw records -> ``catalog.models`` rows (through the annotation rules of
``sn_lake.annotate.model_cards``), the version history (``catalog.model_versions``, ``catalog.model_stats``) and
the parents each model declares (``catalog.model_tree``, ``sn_lake.annotate.lineage``).

A model's row comes from its latest listing and its card at that sha (else its latest card), with seen-at times.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import duckdb
import polars as pl

from sn_lake import lake, warehouse
from sn_lake.annotate import lineage, numbers
from sn_lake.annotate.datasets import data_category
from sn_lake.annotate.model_cards import card_summary
from sn_lake.annotate.numbers import Problem
from sn_lake.catalog.contract import TREE_SCHEMA, CatalogPart
from sn_lake.catalog.schema import CORE, models_schema
from sn_lake.sources.huggingface import SOURCE
from sn_lake.sources.huggingface.parse import (
    IS_CARD,
    card_sha,
    created_at,
    has_safetensors,
    history_rows,
    json_value,
    split_records,
    timestamp,
)


def model_row(model: dict, card_text: str | None, origin: str, problems: list[Problem] | None = None) -> dict:
    """One catalog row (without the seen-at times) from a listing object and its card (if fetched).

    Counts and accuracies pass the rules of :mod:`sn_lake.annotate.numbers`; a value they refuse is NULL and
    its :class:`Problem` (and those of the card) is appended to ``problems``. ``origin`` is the Hub's
    ``scheme://host`` the weights URL starts with (never with credentials).
    """
    facts = card_summary(model, card_text)
    repo_id = model["id"]
    downloads, bad_downloads = numbers.whole_number("downloads", model.get("downloads"))
    likes, bad_likes = numbers.whole_number("likes", model.get("likes"))
    if problems is not None:
        problems.extend([*facts["problems"], *(p for p in (bad_downloads, bad_likes) if p)])
    return {
        "model_id": f"{SOURCE}:{repo_id}",
        "source": SOURCE,
        "name": repo_id,
        "revision": model.get("sha"),
        "architecture": facts["architecture"],
        "model_type": facts["model_type"],
        "dataset": facts["dataset"],
        "dataset_note": facts["dataset_note"],
        "data_category": data_category(facts["dataset"]),
        "num_classes": facts["num_classes"],
        "input_size": facts["input_size"],
        "library": model.get("library_name"),
        "license": facts["license"],
        "paper_id": facts["papers"][0] if facts["papers"] else None,
        "purpose": None,
        "weights_url": f"{origin}/{repo_id}",
        "created_at": created_at(model.get("createdAt")),
        "last_modified": timestamp(model.get("lastModified")),
        "downloads": downloads,
        "likes": likes,
        "reported_accuracy": facts["accuracy"],
        "base_model": facts["base_model"],
        "has_safetensors": has_safetensors(model),
    }


# the columns it fills; their types come from sql/schema/ (sn_lake.catalog.schema)
CATALOG_SCHEMA = models_schema(
    *CORE,
    "dataset_note",
    "created_at",
    "last_modified",
    "downloads",
    "likes",
    "reported_accuracy",
    "base_model",
    "has_safetensors",
)


class CardFinder:
    """A listed model's card: the newest card record at the listing's sha when it has text, else the model's newest
    card with text, else None.

    It holds row positions into the card records' ``payload`` column, not the texts: a card is copied into Python
    only while its model's row is made, so the build's memory does not grow with the size of the cards.
    """

    def __init__(self, cards: pl.DataFrame):
        ordered = cards.sort(lake.NEWEST_LAST)
        self._texts = ordered["payload"]
        self._at_sha: dict[tuple[str, str], int] = {}
        self._newest: dict[str, int] = {}
        has_text = pl.col("payload").fill_null("") != ""
        for i, (repo_id, url, text) in enumerate(ordered.select("native_id", "request_url", has_text).iter_rows()):
            self._at_sha[(repo_id, card_sha(url))] = i
            if text:
                self._newest[repo_id] = i

    def __call__(self, repo_id: str, sha: str) -> str | None:
        at_sha = self._at_sha.get((repo_id, sha))
        card = self._texts[at_sha] if at_sha is not None else None
        if not card and repo_id in self._newest:
            card = self._texts[self._newest[repo_id]]
        return card or None


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of a request URL, without any ``user:password@`` (the lake's URLs have none;
    an older lake's may)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def catalog_rows(raw: pl.DataFrame, issues: list[dict] | None = None) -> pl.DataFrame:
    """Catalog rows for every listed model: its latest listing, its card at that sha (else its latest card), and
    seen-at times.

    Every listed model becomes a row or, when no row can be made of its record, a ``record.unreadable`` entry
    in ``issues``; values the rules refuse are NULL, each with an entry (``number.*``, ``accuracy.*``,
    ``card.*``, ``value.wrong_type``; :mod:`sn_lake.annotate.numbers`).
    """
    issues = [] if issues is None else issues
    schema = {**CATALOG_SCHEMA, **numbers.SEEN_SCHEMA}
    listings, cards = split_records(raw)
    if listings.is_empty():
        return pl.DataFrame(schema=schema)
    latest = lake.latest_records(listings, ("payload", "request_url"))
    find_card = CardFinder(cards)
    rows, frames = [], []
    columns = ("native_id", "payload", "request_url", "first_seen_at", "last_seen_at")
    for repo_id, payload, url, first_seen, last_seen in latest.select(columns).iter_rows():
        model_id = f"{SOURCE}:{repo_id}"
        problems: list[Problem] = []
        try:
            model = json.loads(payload)
            if not isinstance(model, dict):
                raise ValueError(f"the listing record is a JSON {type(model).__name__}, expected an object")
            if model.get("id") != repo_id:  # the id the lake files it under (the crawl's, as text)
                model = {**model, "id": repo_id}
            sha = model.get("sha") if isinstance(model.get("sha"), str) else ""
            row = model_row(model, find_card(repo_id, sha), _origin(url), problems)
            row.update(first_seen_at=first_seen, last_seen_at=last_seen)
            row = numbers.typed_row(row, schema, problems)
        except Exception as exc:  # noqa: BLE001 - any record a stranger wrote: quarantined, never the build's end
            issues.append(numbers.unreadable(model_id, exc))
            continue
        issues.extend(p.entry(model_id) for p in problems)
        rows.append(row)
        if len(rows) == numbers.ROW_CHUNK:  # rows become columns a chunk at a time: memory flat in the number of models
            frames.append(pl.DataFrame(rows, schema=schema))
            rows = []
    return pl.concat([*frames, pl.DataFrame(rows, schema=schema)])


def build_tables(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame) -> dict[str, int]:
    """Rebuild ``catalog.model_versions`` and ``catalog.model_stats`` for Hugging Face models from the raw records."""
    counts = {}
    for table, frame in history_rows(raw).items():
        counts[table] = warehouse.replace_rows(con, table, frame, "model_id LIKE ?", [f"{SOURCE}:%"])
    return counts


def compact_raw(raw: pl.DataFrame) -> pl.DataFrame:
    """The raw records as the catalog build reads them: a listing page's request URL without its query (the cursor
    and the ``expand[]`` list, a third of the records' memory on a large Hub, and of no use to the catalog)."""
    url = pl.col("request_url")
    return raw.with_columns(pl.when(IS_CARD).then(url).otherwise(url.str.replace(r"\?.*$", "")).alias("request_url"))


def tree_rows(raw: pl.DataFrame) -> pl.DataFrame:
    """The parents every listed model declares (``sn_lake.annotate.lineage``), from its latest listing and, when that
    declares none, its card: ``child_id`` (catalog id), ``parent`` (the Hub id as declared), ``relation``, ``evidence``.

    Only the few fields the rules read are taken out of the payloads, so this adds little to the catalog build's memory.
    """
    listings, cards = split_records(raw)
    if listings.is_empty():
        return pl.DataFrame(schema=TREE_SCHEMA)
    payload = pl.col("payload").str
    latest = (
        lake.latest_records(listings)
        .select(
            "native_id",
            payload.json_path_match("$.sha").alias("sha"),
            payload.json_path_match("$.tags").alias("tags"),
            payload.json_path_match("$.cardData.base_model").alias("card_base"),
            payload.json_path_match("$.cardData.base_model_relation").alias("card_relation"),
            payload.json_path_match("$.baseModels").alias("base_models"),
            payload.json_path_match("$.library_name").alias("library"),
        )
        .sort("native_id")
    )
    # the card is read only for models whose listing declares no parent
    bare = latest.filter(
        pl.col("card_base").is_null()
        & pl.col("base_models").is_null()
        & ~pl.col("tags").fill_null("").str.contains('"base_model:', literal=True)
    )
    find_card = CardFinder(cards.filter(pl.col("native_id").is_in(bare["native_id"].implode())))
    bare_ids = set(bare["native_id"])
    rows = []
    for repo_id, sha, tags, card_base, card_relation, base_models, library in latest.iter_rows():
        card = find_card(repo_id, sha or "") if repo_id in bare_ids else None
        tag_list = json_value(tags)
        for parent in lineage.declared_parents(
            repo_id,
            card_base=json_value(card_base),
            card_relation=card_relation,
            card_text=card,
            tags=tag_list if isinstance(tag_list, list) else [],
            base_models=json_value(base_models),
            library=library,
        ):
            rows.append((f"{SOURCE}:{repo_id}", parent.parent, parent.relation, parent.evidence))
    return pl.DataFrame(rows, schema=TREE_SCHEMA, orient="row")


def to_catalog(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame, issues: list[dict]) -> CatalogPart:
    """The source contract (``sn_lake.catalog.contract``): the listed models' catalog rows and declared parents, after
    their version history (:func:`build_tables`). The build hands it the records through :func:`compact_raw` (the
    registry's ``compact``), so the full frame and the compact one are never held at once."""
    rows = catalog_rows(raw, issues)
    build_tables(con, raw)
    return CatalogPart(rows, tree_rows(raw))
