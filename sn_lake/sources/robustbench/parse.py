"""RobustBench's raw records as typed rows: pure functions, no I/O.

A leaderboard record (``<dataset>/<threat model>/<name>.json``) becomes an :class:`Entry`: its fields typed
(accuracies as fractions, epsilon as a number), every field that is missing or malformed read as NULL with a
:class:`Note`, and ``excluded`` set when the record cannot be read at all (not found, not UTF-8, not a JSON
object, an unknown threat-model folder). A corruption table (``unaggregated_results.csv``, ImageNet's
``unaggregated_results_3d.csv``) becomes a :class:`CorruptionTable` of (model, corruption, severity, accuracy)
cells, with a note for every cell or row it could not read. The annotation (canonical datasets, architectures,
venues, model ids) happens in ``sn_lake/catalog/robustbench.py``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

from sn_lake.annotate.numbers import (
    show as _shown,  # short and printable: huge, deep or odd values
)

THREAT_MODELS = ("Linf", "L2", "corruptions")
NORMS = ("Linf", "L2")
CORRUPTION_TABLES = {"unaggregated_results.csv": "common", "unaggregated_results_3d.csv": "3d"}
LINF_GRID = 255  # Linf budgets are multiples of 1/255 (one grey level); RobustBench rounds some to 3 decimals

# JSON field -> (value key, kind). Kinds: text, link, bool, count, percent (0-100 -> fraction), epsilon.
FIELDS: dict[str, tuple[str, str]] = {
    "name": ("title", "text"),
    "authors": ("authors", "text"),
    "link": ("paper_url", "link"),
    "venue": ("venue", "text"),
    "architecture": ("architecture", "text"),
    "dataset": ("dataset_stated", "text"),
    "additional_data": ("additional_data", "bool"),
    "number_forward_passes": ("number_forward_passes", "count"),
    "eps": ("epsilon", "epsilon"),
    "clean_acc": ("clean_accuracy", "percent"),
    "autoattack_acc": ("robust_accuracy", "percent"),
    "reported": ("reported_accuracy", "percent"),
    "external": ("external_accuracy", "percent"),
    "unreliable": ("unreliable", "bool"),
    "footnote": ("footnote", "text"),
    "corruptions_acc": ("corruptions_accuracy", "percent"),
    "corruptions_acc_3d": ("corruptions_accuracy_3d", "percent"),
    "corruptions_mce": ("corruptions_mce", "percent"),
    "corruptions_mce_3d": ("corruptions_mce_3d", "percent"),
}
# Fields every record should state (a missing one is NULL with a note); the others are optional upstream. The
# issue's rule: corruption records, too, are noted for their missing epsilon and AutoAttack figure.
REQUIRED = (
    "name",
    "authors",
    "link",
    "venue",
    "architecture",
    "dataset",
    "additional_data",
    "eps",
    "clean_acc",
    "reported",
    "autoattack_acc",
)
COUNT_MAX = 1_000_000  # a count field's largest value (number_forward_passes; its column is an INTEGER)
EPSILON_MAX = 1_000.0  # the largest L2 radius or corruption budget read; inf and beyond are out of range
REQUIRED_BY_THREAT_MODEL = {"corruptions": ("corruptions_acc",)}
MISSING_MARKS = ("", "null", "none", "n/a", "nan", "-")  # what upstream writes for "no value" (one record: "null")


@dataclass
class Note:
    """A value read as NULL (or a record kept out of the catalog), with the rule that did it."""

    rule: str
    detail: str
    table_name: str = "catalog.robustbench_entries"
    field: str | None = None


@dataclass
class Entry:
    """One leaderboard record: where it is, its typed values and what went wrong."""

    path: str
    dataset_folder: str
    threat_model: str
    name: str
    values: dict[str, Any]
    sha256: str | None = None
    excluded: Note | None = None
    notes: list[Note] = field(default_factory=list)

    @property
    def norm(self) -> str | None:
        return self.threat_model if self.threat_model in NORMS else None


@dataclass
class CorruptionTable:
    """One per-corruption CSV: its cells (model name, corruption, severity, accuracy) and notes per model row."""

    path: str
    dataset_folder: str
    kind: str  # common (CIFAR-10-C, CIFAR-100-C, ImageNet-C) or 3d (ImageNet-3DCC)
    sha256: str | None = None
    cells: list[dict] = field(default_factory=list)
    notes: list[tuple[str | None, Note]] = field(default_factory=list)  # (model name or None for the table, note)
    excluded: Note | None = None


def split_path(path: str) -> tuple[str, str, str]:
    """``cifar10/Linf/Carmon2019Unlabeled.json`` -> ``('cifar10', 'Linf', 'Carmon2019Unlabeled')``."""
    folder, _, file = path.rpartition("/")
    dataset, _, threat_model = folder.partition("/")
    return dataset, threat_model, file.rsplit(".", 1)[0]


def _text(payload: dict) -> tuple[str | None, Note | None]:
    """The body of a raw record, or why it cannot be read."""
    status = payload.get("status", 200)
    if status != 200:
        return None, Note(
            "robustbench.excluded.not_found",
            f"the server answered {status} for the listed file "
            f"{payload.get('path')!r}; it is not in the catalog until it can be fetched",
            "catalog.models",
        )
    if "text" not in payload:
        return None, Note(
            "robustbench.excluded.unreadable",
            f"{payload.get('path')!r} is not UTF-8 text; fix the file upstream (the bytes are kept in the lake)",
            "catalog.models",
        )
    return payload["text"], None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in MISSING_MARKS)


def parse_percent(value: Any, name: str) -> tuple[float | None, Note | None]:
    """A percentage as RobustBench writes it (``"59.53"``, ``59.53``) as a fraction, or NULL with the reason."""
    if _missing(value):
        detail = f"{name} = {_shown(value)} is empty; read as NULL"
        return None, Note("robustbench.null.empty_value", detail, field=name)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None, Note(
            "robustbench.null.invalid_value", f"{name} = {_shown(value)} is not a percentage; read as NULL", field=name
        )
    try:
        number = float(value.strip().removesuffix("%")) if isinstance(value, str) else float(value)
    except ValueError:
        return None, Note(
            "robustbench.null.invalid_value", f"{name} = {_shown(value)} is not a number; read as NULL", field=name
        )
    if not 0 <= number <= 100:  # also NaN
        return None, Note(
            "robustbench.null.out_of_range",
            f"{name} = {_shown(value)}, expected a percentage in [0, 100]; read as NULL",
            field=name,
        )
    return number / 100, None


def _grid_point(number: float, decimals: int) -> int | None:
    """The one k such that k/255 rounds to ``number`` at ``decimals`` decimals, or None when none or several do."""
    if decimals < 2:
        return None
    near = round(number * LINF_GRID)
    matches = [
        k for k in (near - 1, near, near + 1) if k > 0 and round(k / LINF_GRID, decimals) == round(number, decimals)
    ]
    return matches[0] if len(matches) == 1 else None


def parse_epsilon(value: Any, norm: str | None) -> tuple[float | None, Note | None, str | None]:
    """``(epsilon, note, how)`` for ``"8/255"``, ``"0.5"`` or ``"0.031"``.

    Linf budgets live on the 1/255 grid, so a decimal that is the rounding of exactly one k/255 reads as k/255
    (``"0.031"`` -> 8/255, as RobustBench groups it); ``how`` then says so. A Linf budget must lie in [0, 1],
    an L2 radius be at least 0. Anything else is NULL with its note.
    """
    name = "eps"
    if _missing(value):
        return (
            None,
            Note("robustbench.null.empty_value", f"eps = {_shown(value)} is empty; epsilon is NULL", field=name),
            None,
        )
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return (
            None,
            Note(
                "robustbench.null.invalid_value",
                f"eps = {_shown(value)} is not a number or a ratio; epsilon is NULL",
                field=name,
            ),
            None,
        )
    text = str(value).strip()
    how = None
    try:
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)", text)
        if match:
            epsilon = float(match.group(1)) / float(match.group(2))
        else:
            epsilon = float(text)
            decimals = len(text.partition(".")[2]) if re.fullmatch(r"\d*\.\d+", text) else 0
            grid = _grid_point(epsilon, decimals) if norm == "Linf" else None
            if grid is not None and grid / LINF_GRID != epsilon:
                epsilon, how = grid / LINF_GRID, f"{text} read as {grid}/{LINF_GRID}"
    except (ValueError, ZeroDivisionError, OverflowError):  # OverflowError: '1e400' is inf, which no grid point is
        return (
            None,
            Note(
                "robustbench.null.invalid_value",
                f"eps = {_shown(value)} is not a number or a ratio such as '8/255'; epsilon is NULL",
                field=name,
            ),
            None,
        )
    high = 1.0 if norm == "Linf" else EPSILON_MAX  # an L2 radius (or a corruption model's budget) may pass 1
    if not 0 <= epsilon <= high:  # also NaN
        expected = "a fraction in [0, 1]" if high == 1.0 else f"a radius in [0, {EPSILON_MAX:g}]"
        return (
            None,
            Note(
                "robustbench.null.out_of_range",
                f"eps = {_shown(value)}, expected {expected}; epsilon is NULL",
                field=name,
            ),
            None,
        )
    return epsilon, None, how


def _read_value(key: str, kind: str, value: Any, norm: str | None) -> tuple[Any, Note | None]:
    if kind == "percent":
        return parse_percent(value, key)
    if kind == "epsilon":
        epsilon, note, _ = parse_epsilon(value, norm)
        return epsilon, note
    if _missing(value):
        return None, Note("robustbench.null.empty_value", f"{key} = {_shown(value)} is empty; read as NULL", field=key)
    if kind == "bool":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true", None
        return None, Note(
            "robustbench.null.invalid_value", f"{key} = {_shown(value)} is not true or false; read as NULL", field=key
        )
    if kind == "count":
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= COUNT_MAX:
            return value, None
        return None, Note(
            "robustbench.null.invalid_value",
            f"{key} = {_shown(value)}, expected a whole number in [1, {COUNT_MAX}]; read as NULL",
            field=key,
        )
    if not isinstance(value, str):
        detail = f"{key} = {_shown(value)} is not text; read as NULL"
        return None, Note("robustbench.null.invalid_value", detail, field=key)
    text = value.strip()
    if kind == "link" and not re.match(r"https?://", text):
        return None, Note(
            "robustbench.null.invalid_value", f"link = {_shown(value)} is not an http(s) link; read as NULL", field=key
        )
    return text, None


def read_entry(payload: dict) -> Entry:
    """One leaderboard record (a raw payload: ``path``, ``status``, ``text``) as an :class:`Entry`."""
    path = payload.get("path", "")
    dataset, threat_model, name = split_path(path)
    entry = Entry(
        path=path,
        dataset_folder=dataset,
        threat_model=threat_model,
        name=name,
        values=dict.fromkeys([*(key for key, _ in FIELDS.values()), "epsilon_as_written", "epsilon_reading"]),
        sha256=payload.get("sha256"),
    )
    text, entry.excluded = _text(payload)
    if entry.excluded:
        return entry
    if threat_model not in THREAT_MODELS:
        entry.excluded = Note(
            "robustbench.excluded.unknown_threat_model",
            f"{path!r} lies under {threat_model!r}, none "
            f"of {', '.join(THREAT_MODELS)}; add the threat model to sn_lake/sources/robustbench/parse.py",
            "catalog.models",
        )
        return entry
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser's stack
        entry.excluded = Note(
            "robustbench.excluded.unreadable",
            f"{path!r} is not valid JSON ({exc}); fix the record upstream (its text is kept in the lake)",
            "catalog.models",
        )
        return entry
    if not isinstance(record, dict):
        entry.excluded = Note(
            "robustbench.excluded.unreadable",
            f"{path!r} holds a JSON {type(record).__name__}, expected "
            "an object of leaderboard fields; fix the record upstream",
            "catalog.models",
        )
        return entry
    required = (*REQUIRED, *REQUIRED_BY_THREAT_MODEL.get(threat_model, ()))
    for json_key, (key, kind) in FIELDS.items():
        if json_key not in record:
            if json_key in required:
                entry.notes.append(
                    Note(
                        "robustbench.null.missing_field",
                        f"the {threat_model} record has no {json_key!r} field; read as NULL",
                        field=json_key,
                    )
                )
            continue
        value, note = _read_value(json_key, kind, record[json_key], entry.norm)
        entry.values[key] = value
        if note is not None and not (json_key not in required and _missing(record[json_key])):
            entry.notes.append(note)  # an optional field left empty ("footnote": "") is no problem
    if "eps" in record:
        entry.values["epsilon_as_written"] = None if record["eps"] is None else str(record["eps"])
        entry.values["epsilon_reading"] = parse_epsilon(record["eps"], entry.norm)[2]
    return entry


def read_corruption_table(payload: dict) -> CorruptionTable:
    """One per-corruption CSV: two header rows (corruption names, severities), then one row per model."""
    path = payload.get("path", "")
    dataset, file = path.partition("/")[0], path.rpartition("/")[2]
    table = CorruptionTable(
        path=path, dataset_folder=dataset, kind=CORRUPTION_TABLES.get(file, "common"), sha256=payload.get("sha256")
    )
    text, table.excluded = _text(payload)
    if table.excluded:
        return table
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:  # a field past csv's size limit, a NUL byte
        table.excluded = Note(
            "robustbench.excluded.unreadable",
            f"{path!r} is not a CSV table ({exc}); fix it upstream",
            "results.corruption",
        )
        return table
    header_ok = len(rows) >= 2 and len(rows[0]) == len(rows[1]) and len(rows[0]) > 1
    severities: list[int] = []
    if header_ok:
        try:
            severities = [int(s) for s in rows[1][1:]]
        except ValueError:
            header_ok = False
    if not header_ok or not all(c.strip() for c in rows[0][1:]):
        table.excluded = Note(
            "robustbench.excluded.unreadable",
            f"{path!r}: expected two header rows (corruption names, "
            "then severities 1-5) of equal length, found otherwise; fix the table upstream",
            "results.corruption",
        )
        return table
    corruptions = [c.strip() for c in rows[0][1:]]
    seen: set[str] = set()
    for number, row in enumerate(rows[2:], start=3):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        model = row[0].strip()
        if len(row) != len(rows[0]) or not model:
            what = f"{len(row)} cells, expected {len(rows[0])}" if model else "no model name"
            table.notes.append(
                (
                    model or None,
                    Note(
                        "robustbench.excluded.malformed_row",
                        f"{path!r} line {number}: {what}; the row is left out",
                        "results.corruption",
                    ),
                )
            )
            continue
        if model in seen:
            table.notes.append(
                (
                    model,
                    Note(
                        "robustbench.excluded.duplicate_row",
                        f"{path!r} line {number}: {model!r} appears again; the first row is kept",
                        "results.corruption",
                    ),
                )
            )
            continue
        seen.add(model)
        for corruption, severity, cell in zip(corruptions, severities, row[1:], strict=False):
            accuracy, note = _fraction(cell)
            if note:
                table.notes.append(
                    (
                        model,
                        Note(
                            note[0],
                            f"{path!r} line {number}, {corruption} severity {severity}: {note[1]}; read as NULL",
                            "results.corruption",
                            corruption,
                        ),
                    )
                )
            table.cells.append({"model": model, "corruption": corruption, "severity": severity, "accuracy": accuracy})
    return table


def _fraction(cell: str) -> tuple[float | None, tuple[str, str] | None]:
    text = cell.strip()
    if not text:
        return None, ("robustbench.null.empty_value", "the cell is empty")
    try:
        number = float(text)
    except ValueError:
        return None, ("robustbench.null.invalid_value", f"{text!r} is not a number")
    if not 0 <= number <= 1:
        return None, ("robustbench.null.out_of_range", f"{text!r}, expected an accuracy in [0, 1]")
    return number, None
