"""RobustBench's records -> ``catalog.models``, ``catalog.robustbench_entries``, ``catalog.quarantine`` and the
published results (``origin = 'published:robustbench'``) in ``results.adversarial`` and ``results.corruption``.

Every record of the current snapshot (:mod:`sn_lake.catalog.snapshots`) is accounted for: a leaderboard record is
a catalog row ``robustbench:<dataset>/<threat model>/<name>`` (canonical dataset id, e.g.
``robustbench:cifar10/Linf/Carmon2019Unlabeled``) or a ``robustbench.excluded.*`` quarantine entry with its reason;
a value read as NULL has a ``robustbench.null.*`` entry; every row of a corruption table is in
``results.corruption`` or quarantined. ``catalog.robustbench_entries`` keeps every record as the leaderboard states
it (venue, year, authors, footnote, the epsilon as written), in the catalog or not. docs/published_results.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from sn_lake import lake, warehouse
from sn_lake.annotate.architectures import model_family
from sn_lake.annotate.datasets import canonical_dataset, data_category
from sn_lake.annotate.papers import arxiv_ids
from sn_lake.annotate.venues import normalize_venue, venue_type
from sn_lake.catalog import snapshots
from sn_lake.catalog.contract import CatalogPart
from sn_lake.catalog.schema import CORE, QUARANTINE_SCHEMA, SEEN, models_schema
from sn_lake.sources.location import MANIFEST
from sn_lake.sources.robustbench import SOURCE, parse

ORIGIN = "published:robustbench"
PURPOSE = "security"  # a leaderboard of defences against adversarial examples and corruptions
# canonical dataset -> (classes, input side in pixels, test points AutoAttack is run on: RobustBench's protocol)
DATASETS = {"cifar10": (10, 32, 10_000), "cifar100": (100, 32, 10_000), "imagenet-1k": (1000, 224, 5_000)}
# (canonical dataset, table kind) -> corruption benchmark
BENCHMARKS = {
    ("cifar10", "common"): "cifar10-c",
    ("cifar100", "common"): "cifar100-c",
    ("imagenet-1k", "common"): "imagenet-c",
    ("imagenet-1k", "3d"): "imagenet-3dcc",
}
AUTOATTACK_CONFIG = json.dumps({"version": "standard"})  # RobustBench's leaderboards run standard AutoAttack
# fields whose NULL leaves a hole in a results table (named in the quarantine entry)
RESULT_FIELDS = {"clean_acc", "autoattack_acc", "reported", "eps", "external", "unreliable", "additional_data"}
CORRUPTION_FIELDS = {"corruptions_acc", "corruptions_acc_3d", "corruptions_mce", "corruptions_mce_3d"}
ENTRIES = "catalog.robustbench_entries"


def model_id(dataset: str, threat_model: str, name: str) -> str:
    return f"{SOURCE}:{dataset}/{threat_model}/{name}"


def architecture_name(text: str | None) -> str | None:
    """RobustBench's architecture spelling as a timm-style name: ``WideResNet-28-10`` -> ``wide_resnet28_10``.

    An ensemble (``ResNet-152 + WideResNet-70-16``) or a variant note (``WideResNet-70-16, Neural ODE block``) is
    named by its first network; ``MeanSparse`` (an operator added to a trained network) and ``Ra`` (the robust
    architecture variant of a wide ResNet) are dropped.
    """
    if not text or not text.strip():
        return None
    first = re.split(r"\s\+\s|,", text)[0].strip()
    first = re.sub(r"^MeanSparse\s+", "", first)
    name = re.sub(r"[\s\-]+", "_", first.lower())
    name = re.sub(r"^(?:ra)?wide_?resnet", "wide_resnet", name)
    return re.sub(
        r"^([a-z_]*[a-z])_(\d)", r"\1\2", name
    )  # resnet_18 -> resnet18, wide_resnet_28_10 -> wide_resnet28_10


def venue_year(venue: str | None, paper_id: str | None) -> int | None:
    """The year a venue string names (``NeurIPS 2019``, ``arXiv, Oct 2020``), else the arXiv id's (``2010.03593``)."""
    match = re.search(r"\b(19[89]\d|20\d{2})\b", venue or "")
    if match:
        return int(match.group(1))
    if paper_id and re.match(r"^\d{4}\.\d{4,5}$", paper_id):
        return 2000 + int(paper_id[:2])
    return None


@dataclass
class Annotated:
    """One record with its annotations: the catalog id and dataset, and the problems found."""

    entry: parse.Entry
    model_id: str
    dataset: str | None
    notes: list[tuple[str, parse.Note]]  # (row key, note)
    excluded: parse.Note | None
    fetched_at: Any


@dataclass
class Built:
    entries: list[Annotated]
    tables: list[parse.CorruptionTable]
    other: list[tuple[str, parse.Note]]  # files that are neither a record nor a corruption table
    snap: snapshots.Snapshot


def _annotate(entry: parse.Entry, fetched_at: Any, taken: set[str]) -> Annotated:
    dataset = canonical_dataset(entry.dataset_folder)
    mid = model_id(dataset or entry.dataset_folder.lower(), entry.threat_model, entry.name)
    excluded = entry.excluded
    if excluded is None and dataset not in DATASETS:
        excluded = parse.Note(
            "robustbench.excluded.unknown_dataset",
            f"{entry.path!r} lies under {entry.dataset_folder!r}, "
            f"none of {', '.join(DATASETS)}; add it to sn_lake/catalog/robustbench.py",
            "catalog.models",
        )
    if excluded is None and mid in taken:
        excluded = parse.Note(
            "robustbench.excluded.duplicate_model_id",
            f"{entry.path!r} names {mid}, which another record already holds; rename one of the folders upstream",
            "catalog.models",
        )
    taken.add(mid)
    notes = []
    for note in entry.notes:
        if note.field in RESULT_FIELDS and entry.norm:
            note.table_name = "results.adversarial"
        elif note.field in CORRUPTION_FIELDS:
            note.table_name = "results.corruption"
        notes.append((mid, note))
    stated = entry.values["dataset_stated"]
    if excluded is None and stated and canonical_dataset(stated) != dataset:
        notes.append(
            (
                mid,
                parse.Note(
                    "robustbench.note.dataset_mismatch",
                    f"the record states dataset {stated!r} but "
                    f"lies under {entry.dataset_folder}/ (the leaderboard it is on); {dataset} is kept",
                    ENTRIES,
                    "dataset",
                ),
            )
        )
    return Annotated(entry, mid, dataset, notes, excluded, fetched_at)


def build(raw: pl.DataFrame) -> Built:
    """Parse and annotate the current snapshot of RobustBench's raw records."""
    snap = snapshots.current(raw, MANIFEST)
    entries, tables, other, taken = [], [], [], set()
    for path in sorted(snap.payloads):
        payload = {"path": path, **snap.payloads[path]}
        dataset_folder, threat_model, name = parse.split_path(path)
        file = path.rpartition("/")[2]
        if path.endswith(".json"):
            entries.append(_annotate(parse.read_entry(payload), snap.fetched_at[path], taken))
        elif threat_model == "corruptions" and file in parse.CORRUPTION_TABLES:
            tables.append(parse.read_corruption_table(payload))
        else:
            other.append(
                (
                    f"{SOURCE}:{path}",
                    parse.Note(
                        "robustbench.excluded.unknown_file",
                        f"{path!r} is neither a leaderboard record nor a corruption table; it is not read",
                        "catalog.models",
                    ),
                )
            )
    return Built(entries, tables, other, snap)


def _model_row(a: Annotated, snap: snapshots.Snapshot) -> dict:
    v = a.entry.values
    classes, side, _ = DATASETS[a.dataset]
    architecture = architecture_name(v["architecture"])
    papers = arxiv_ids(v["paper_url"])
    return {
        "model_id": a.model_id,
        "source": SOURCE,
        "name": a.entry.name,
        "revision": f"sha256:{a.entry.sha256[:12]}" if a.entry.sha256 else None,
        "architecture": architecture,
        "model_type": model_family(architecture),
        "dataset": a.dataset,
        "data_category": data_category(a.dataset),
        "num_classes": classes,
        "input_size": side,
        "library": None,
        "license": None,
        "paper_id": papers[0] if papers else None,
        "purpose": PURPOSE,
        "weights_url": None,
        "first_seen_at": snap.first_seen[a.entry.path],
        "last_seen_at": snap.last_seen[a.entry.path],
    }


# the columns it fills; their types come from sql/schema/ (sn_lake.catalog.schema)
CATALOG_SCHEMA = models_schema(*CORE, *SEEN)


def catalog_rows(raw: pl.DataFrame) -> pl.DataFrame:
    """catalog.models rows for every leaderboard record of the current snapshot that no rule excluded."""
    built = build(raw)
    return pl.DataFrame([_model_row(a, built.snap) for a in built.entries if a.excluded is None], schema=CATALOG_SCHEMA)


def _n_authors(authors: str | None) -> int | None:
    names = [n for n in re.split(r",|\band\b", authors or "") if n.strip()]
    return len(names) or None


def entry_rows(built: Built) -> pl.DataFrame:
    """catalog.robustbench_entries: every leaderboard record as it states itself, in the catalog or not."""
    out = []
    for a in built.entries:
        v, e = a.entry.values, a.entry
        papers = arxiv_ids(v["paper_url"])
        paper_id = papers[0] if papers else None
        out.append(
            {
                "path": e.path,
                "model_id": a.model_id,
                "in_catalog": a.excluded is None,
                "dataset": a.dataset,
                "threat_model": e.threat_model,
                "norm": e.norm,
                "name": e.name,
                "title": v["title"],
                "authors": v["authors"],
                "n_authors": _n_authors(v["authors"]),
                "paper_url": v["paper_url"],
                "paper_id": paper_id,
                "venue": v["venue"],
                "venue_normalized": normalize_venue(v["venue"]),
                "venue_type": venue_type(v["venue"]),
                "year": venue_year(v["venue"], paper_id),
                "architecture_as_written": v["architecture"],
                "architecture": architecture_name(v["architecture"]),
                "dataset_stated": v["dataset_stated"],
                **{
                    k: v[k]
                    for k in (
                        "additional_data",
                        "number_forward_passes",
                        "epsilon_as_written",
                        "epsilon",
                        "epsilon_reading",
                        "clean_accuracy",
                        "robust_accuracy",
                        "reported_accuracy",
                        "external_accuracy",
                        "unreliable",
                        "corruptions_accuracy",
                        "corruptions_accuracy_3d",
                        "corruptions_mce",
                        "corruptions_mce_3d",
                        "footnote",
                    )
                },
                "record_sha256": e.sha256,
                "fetched_at": a.fetched_at,
            }
        )
    schema = {
        "path": pl.String,
        "model_id": pl.String,
        "in_catalog": pl.Boolean,
        "dataset": pl.String,
        "threat_model": pl.String,
        "norm": pl.String,
        "name": pl.String,
        "title": pl.String,
        "authors": pl.String,
        "n_authors": pl.Int32,
        "paper_url": pl.String,
        "paper_id": pl.String,
        "venue": pl.String,
        "venue_normalized": pl.String,
        "venue_type": pl.String,
        "year": pl.Int32,
        "architecture_as_written": pl.String,
        "architecture": pl.String,
        "dataset_stated": pl.String,
        "additional_data": pl.Boolean,
        "number_forward_passes": pl.Int32,
        "epsilon_as_written": pl.String,
        "epsilon": pl.Float64,
        "epsilon_reading": pl.String,
        "clean_accuracy": pl.Float64,
        "robust_accuracy": pl.Float64,
        "reported_accuracy": pl.Float64,
        "external_accuracy": pl.Float64,
        "unreliable": pl.Boolean,
        "corruptions_accuracy": pl.Float64,
        "corruptions_accuracy_3d": pl.Float64,
        "corruptions_mce": pl.Float64,
        "corruptions_mce_3d": pl.Float64,
        "footnote": pl.String,
        "record_sha256": pl.String,
        "fetched_at": pl.Datetime("us", "UTC"),
    }
    return pl.DataFrame(out, schema=schema)


COMMON_SCHEMA = {
    "model_id": pl.String,
    "revision": pl.String,
    "dataset": pl.String,
    "origin": pl.String,
    "computed_at": pl.Datetime("us", "UTC"),
}
ADVERSARIAL_SCHEMA = {
    **COMMON_SCHEMA,
    "setting": pl.String,
    "attack": pl.String,
    "norm": pl.String,
    "epsilon": pl.Float64,
    "clean_accuracy": pl.Float64,
    "robust_accuracy": pl.Float64,
    "accuracy_drop": pl.Float64,
    "n_examples": pl.Int64,
    "attack_config": pl.String,
    "unreliable": pl.Boolean,
    "additional_data": pl.Boolean,
    "external": pl.Float64,
}
CORRUPTION_SCHEMA = {
    **COMMON_SCHEMA,
    "benchmark": pl.String,
    "corruption": pl.String,
    "severity": pl.Int32,
    "accuracy": pl.Float64,
    "clean_accuracy": pl.Float64,
    "mce": pl.Float64,
}


def _common(a: Annotated) -> dict:
    revision = f"sha256:{a.entry.sha256[:12]}" if a.entry.sha256 else None
    return {
        "model_id": a.model_id,
        "revision": revision,
        "dataset": a.dataset,
        "origin": ORIGIN,
        "computed_at": a.fetched_at,
    }


def adversarial_rows(built: Built) -> pl.DataFrame:
    """AutoAttack's clean and robust accuracy (attack ``autoattack``) and the paper's claim (attack ``reported``)."""
    out = []
    for a in built.entries:
        v = a.entry.values
        if a.excluded is not None or a.entry.norm is None:
            continue
        shared = {
            **_common(a),
            "setting": "white-box",
            "norm": a.entry.norm,
            "epsilon": v["epsilon"],
            "unreliable": v["unreliable"],
            "additional_data": v["additional_data"],
            "external": v["external_accuracy"],
        }
        clean, robust = v["clean_accuracy"], v["robust_accuracy"]
        if clean is not None or robust is not None:
            drop = clean - robust if clean is not None and robust is not None else None
            out.append(
                {
                    **shared,
                    "attack": "autoattack",
                    "clean_accuracy": clean,
                    "robust_accuracy": robust,
                    "accuracy_drop": drop,
                    "n_examples": DATASETS[a.dataset][2],
                    "attack_config": AUTOATTACK_CONFIG,
                }
            )
        if v["reported_accuracy"] is not None:
            out.append(
                {
                    **shared,
                    "attack": "reported",
                    "clean_accuracy": None,
                    "robust_accuracy": v["reported_accuracy"],
                    "accuracy_drop": None,
                    "n_examples": None,
                    "attack_config": None,
                }
            )
    return pl.DataFrame(out, schema=ADVERSARIAL_SCHEMA)


def _loose(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def corruption_rows(built: Built) -> tuple[pl.DataFrame, list[tuple[str, parse.Note]]]:
    """Per-corruption accuracies (the CSVs) and each record's mean over the benchmark (corruption ``all``)."""
    out, notes = [], []
    records = {}  # (dataset folder, name) -> annotated corruption record in the catalog
    for a in built.entries:
        if a.excluded is None and a.entry.threat_model == "corruptions":
            records[(a.entry.dataset_folder, a.entry.name)] = a
            v = a.entry.values
            for kind, accuracy, mce in (
                ("common", "corruptions_accuracy", "corruptions_mce"),
                ("3d", "corruptions_accuracy_3d", "corruptions_mce_3d"),
            ):
                if (a.dataset, kind) in BENCHMARKS and (v[accuracy] is not None or v[mce] is not None):
                    out.append(
                        {
                            **_common(a),
                            "benchmark": BENCHMARKS[(a.dataset, kind)],
                            "corruption": "all",
                            "severity": None,
                            "accuracy": v[accuracy],
                            "clean_accuracy": v["clean_accuracy"],
                            "mce": v[mce],
                        }
                    )
    for table in built.tables:
        table_key = f"{SOURCE}:{table.path}"
        dataset = canonical_dataset(table.dataset_folder)
        if table.excluded is None and (dataset, table.kind) not in BENCHMARKS:
            table.excluded = parse.Note(
                "robustbench.excluded.unknown_dataset",
                f"{table.path!r}: no corruption benchmark is known for {table.dataset_folder!r}; add it to BENCHMARKS",
                "results.corruption",
            )
        if table.excluded is not None:
            notes.append((table_key, table.excluded))
            continue
        loose: dict[str, list[Annotated]] = {}
        for (folder, name), a in records.items():
            if folder == table.dataset_folder:
                loose.setdefault(_loose(name), []).append(a)
        ids = {}
        for name in dict.fromkeys(c["model"] for c in table.cells):
            match = records.get((table.dataset_folder, name))
            if match is None and len(loose.get(_loose(name), [])) == 1:
                match = loose[_loose(name)][0]
                notes.append(
                    (
                        match.model_id,
                        parse.Note(
                            "robustbench.note.name_matched_loosely",
                            f"{table.path!r} names "
                            f"{name!r}; read as the record {match.entry.name!r} (same letters and digits)",
                            "results.corruption",
                        ),
                    )
                )
            if match is None:
                mid = model_id(dataset, "corruptions", name)
                notes.append(
                    (
                        mid,
                        parse.Note(
                            "robustbench.note.unknown_model",
                            f"{table.path!r} names {name!r}, which no "
                            "corruption record describes; its rows are kept under that name",
                            "results.corruption",
                        ),
                    )
                )
            ids[name] = (match.model_id, match.entry.values["clean_accuracy"]) if match else (mid, None)
        revision = f"sha256:{table.sha256[:12]}" if table.sha256 else None
        fetched_at = built.snap.fetched_at[table.path]
        for cell in table.cells:
            mid, clean = ids[cell["model"]]
            out.append(
                {
                    "model_id": mid,
                    "revision": revision,
                    "dataset": dataset,
                    "origin": ORIGIN,
                    "computed_at": fetched_at,
                    "benchmark": BENCHMARKS[(dataset, table.kind)],
                    "corruption": cell["corruption"],
                    "severity": cell["severity"],
                    "accuracy": cell["accuracy"],
                    "clean_accuracy": clean,
                    "mce": None,
                }
            )
        for name, note in table.notes:
            notes.append(
                (ids[name][0] if name in ids else (model_id(dataset, "corruptions", name) if name else table_key), note)
            )
    return pl.DataFrame(out, schema=CORRUPTION_SCHEMA), notes


def quarantine_rows(built: Built, extra: list[tuple[str, parse.Note]], detected_at: Any) -> pl.DataFrame:
    """Every record kept out, every value read as NULL and every corruption-table problem, with rule and reason."""
    found = list(built.other)
    for a in built.entries:
        found += ([(a.model_id, a.excluded)] if a.excluded else []) + a.notes
    found += extra
    rows = [
        {"table_name": n.table_name, "row_key": key, "rule": n.rule, "detail": n.detail, "detected_at": detected_at}
        for key, n in found
    ]
    return pl.DataFrame(rows, schema=QUARANTINE_SCHEMA)


def build_tables(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame) -> dict[str, int]:
    """Rebuild RobustBench's entries, quarantine entries and published results from the raw records."""
    built = build(raw)
    corruption, notes = corruption_rows(built)
    counts = {ENTRIES: warehouse.replace_rows(con, ENTRIES, entry_rows(built), "true")}
    counts["catalog.quarantine"] = warehouse.replace_rows(
        con, "catalog.quarantine", quarantine_rows(built, notes, lake.utcnow()), "rule LIKE ?", ["robustbench.%"]
    )
    counts["results.adversarial"] = warehouse.replace_rows(
        con, "results.adversarial", adversarial_rows(built), "origin = ?", [ORIGIN]
    )
    counts["results.corruption"] = warehouse.replace_rows(con, "results.corruption", corruption, "origin = ?", [ORIGIN])
    return counts


def to_catalog(con: duckdb.DuckDBPyConnection, raw: pl.DataFrame, issues: list[dict]) -> CatalogPart:
    """The source contract (``sn_lake.catalog.contract``): the leaderboard's catalog rows, after its entries, published
    results and quarantine entries (:func:`build_tables`; its rules write their own ``robustbench.*`` entries, so
    ``issues`` gets none)."""
    build_tables(con, raw)
    return CatalogPart(catalog_rows(raw))
