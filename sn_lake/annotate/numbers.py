"""Range rules for the values a source hands the catalog: numbers, accuracies, and the typed row they land in.

Strangers publish the records the catalog reads, so no value reaches a typed column unchecked. Each rule
returns ``(value, problem)``: the value when it passes, else ``None`` and a :class:`Problem` naming the field,
the value and the rule, which the catalog build writes to ``catalog.quarantine`` (``row_key`` = the model id).

Rules (the quarantine's ``rule`` column):

* ``number.unparseable``: a count that is not a whole number (a boolean, a fraction, text that is not digits,
  a list, an object).
* ``number.out_of_range``: a whole number outside its field's range (:data:`RANGES`).
* ``accuracy.unparseable``: an accuracy that is not a number (a boolean, ``NaN``, text such as ``"high"``).
* ``accuracy.out_of_range``: an accuracy that is neither a fraction nor a percentage (negative, above 100, inf).
* ``value.wrong_type``: a text, date or flag field of the wrong JSON type (:func:`typed_row`).
* ``value.invalid_url``: a ``*_url`` field that is no URL a parser can split (``http://[broken``).
* ``record.unreadable``: a record no catalog row could be made of (:func:`unreadable`).

:func:`rows_from_records` applies all of it to a source's latest records: every record becomes a typed
catalog row or a ``record.unreadable`` entry, so one stranger's record never stops the catalog build.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import polars as pl

# field -> inclusive [low, high] of the whole numbers the catalog accepts for it
RANGES: dict[str, tuple[int, int]] = {
    "num_classes": (1, 1_000_000),
    "input_size": (1, 8192),  # side of the square input in pixels
    "downloads": (0, 2**62),
    "likes": (0, 2**62),
    "year": (1900, 2100),  # a paper's publication year
}
TEXT_NUMBER_MAX = 64  # characters: longer text is never read as a number
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_WHOLE = re.compile(r"[+-]?\d+")
_INT_BOUNDS = {pl.Int32: (-(2**31), 2**31 - 1), pl.Int64: (-(2**63), 2**63 - 1)}
QUARANTINE_TABLE = "catalog.models"


@dataclass(frozen=True)
class Problem:
    """One value read as NULL: the field it was for, the rule that refused it, and why (naming the value)."""

    field: str
    rule: str
    detail: str

    def entry(self, row_key: str, table_name: str = QUARANTINE_TABLE) -> dict:
        """This problem as a ``catalog.quarantine`` entry (without ``detected_at``)."""
        return {"table_name": table_name, "row_key": row_key, "rule": self.rule, "detail": self.detail}


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlevel = 3


def show(value: Any) -> str:
    """A short, printable rendering of any value a payload may hold (huge ints, deep lists, lone surrogates)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of {value.bit_length()} bits"
    try:
        return _REPR.repr(value).encode("ascii", "backslashreplace").decode("ascii")
    except Exception:  # noqa: BLE001 - a repr that fails still gets named
        return f"a {type(value).__name__}"


def _as_number(value: Any) -> float | int | None:
    """``value`` as an int or float when it is one (booleans are not), or text that spells one; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) <= TEXT_NUMBER_MAX:
            if _WHOLE.fullmatch(text):
                return int(text)
            if _DECIMAL.fullmatch(text):
                return float(text)
    return None


def whole_number(field: str, value: Any, *, zero_is_none: bool = False) -> tuple[int | None, Problem | None]:
    """A count within ``RANGES[field]``: an int, an integral float (``224.0``) or digits (``"224"``).

    ``None`` is absent, not a problem. ``zero_is_none`` reads 0 as "none" without a problem (a timm
    ``num_classes`` of 0 means the model has no classifier head).
    """
    if value is None:
        return None, None
    low, high = RANGES[field]
    number = _as_number(value)
    if isinstance(number, float):
        number = int(number) if math.isfinite(number) and number == int(number) else None
    if number is None:
        return None, Problem(
            field, "number.unparseable", f"{field} = {show(value)} is not a whole number; read as NULL"
        )
    if number == 0 and zero_is_none:
        return None, None
    if not low <= number <= high:
        return None, Problem(
            field,
            "number.out_of_range",
            f"{field} = {show(value)} is out of range: expected a whole number in [{low}, {high}]; read as NULL",
        )
    return number, None


def accuracy(value: Any, field: str = "reported_accuracy", where: str = "") -> tuple[float | None, Problem | None]:
    """An accuracy as a fraction in [0, 1].

    * a number in [0, 1] is a fraction, and a number above 1 and at most 100 is a percentage: ``97.5`` is 0.975,
      and so ``1.5`` is 1.5 % (0.015): a fraction above 1 does not exist, so the rule needs no guess;
    * text is read the same way (``"0.975"``), and a trailing ``%`` always means a percentage (``"97.5%"`` is
      0.975, ``"0.5%"`` is 0.005);
    * booleans are not numbers (``value: true`` is not 1.0), and neither are ``NaN``, lists or other text:
      ``accuracy.unparseable``; negative numbers, numbers above 100 and infinities: ``accuracy.out_of_range``.

    ``where`` says where the value was found (``"model-index results[0].metrics[1]"``), for the problem's detail.
    """
    if value is None:
        return None, None
    place = f" ({where})" if where else ""
    percent = False
    number: float | int | None
    if isinstance(value, str) and value.strip().endswith("%"):
        percent = True
        number = _as_number(value.strip()[:-1])
    else:
        number = _as_number(value)
    if number is None or (isinstance(number, float) and math.isnan(number)):
        detail = f"{field} = {show(value)}{place} is not a number; read as NULL"
        return None, Problem(field, "accuracy.unparseable", detail)
    number = float(number) if abs(number) < 1e300 else (math.inf if number > 0 else -math.inf)
    if percent or 1 < number <= 100:
        number /= 100
    if not 0 <= number <= 1:
        return None, Problem(
            field,
            "accuracy.out_of_range",
            f"{field} = {show(value)}{place} is out of range: expected a fraction in [0, 1] or a percentage in "
            "(1, 100]; read as NULL",
        )
    return number, None


def clean_text(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates (JSON escapes allow them, no Parquet or DuckDB string holds them)
    become '?'."""
    if text.isascii():  # the usual case, without encoding
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


# an http(s) URL whose host is plain letters, digits, dots and dashes (no port, brackets or user): it always splits
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.-]*(?:[/?#].*)?", re.DOTALL)


def is_url(text: str) -> bool:
    """Whether ``text`` splits as a URL (``urllib.parse.urlsplit`` refuses ``http://[broken``, for one)."""
    if _PLAIN_URL.fullmatch(text):  # the usual case, without splitting
        return True
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is no number
    except ValueError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _checker(dtype: pl.DataType):
    """A function ``value -> (typed value, None)``, or ``(None, what was expected)``, for one column type."""
    if dtype == pl.String:  # clean_text's ASCII case inline: this runs for every text of every record
        return lambda v: ((v if v.isascii() else clean_text(v)), None) if isinstance(v, str) else (None, "text")
    if dtype == pl.Boolean:
        return lambda v: (v, None) if isinstance(v, bool) else (None, "true or false")
    if dtype == pl.Float64:  # abs(NaN) < x is False: NaN is refused with the infinities
        finite = "a finite number"
        return lambda v: (float(v), None) if (_is_int(v) or isinstance(v, float)) and abs(v) < 1e300 else (None, finite)
    if dtype in _INT_BOUNDS:
        low, high = _INT_BOUNDS[dtype]
        wanted = f"a whole number in [{low}, {high}]"
        return lambda v: (v, None) if _is_int(v) and low <= v <= high else (None, wanted)
    if dtype == pl.List(pl.String):  # author names, country codes
        texts = "a list of texts"
        return lambda v: (
            ([clean_text(x) for x in v], None)
            if isinstance(v, list) and all(isinstance(x, str) for x in v)
            else (None, texts)
        )
    if isinstance(dtype, pl.Datetime):
        return lambda v: (v, None) if isinstance(v, datetime) else (None, "a timestamp")
    raise ValueError(
        "Expected a catalog column type (String, List(String), Boolean, Float64, Int32, Int64, Datetime), "
        f"found {dtype}: "
        "add a check for it to sn_lake/annotate/numbers.py."
    )


_COMPILED: dict[int, tuple[Mapping, list]] = {}  # id(schema) -> (schema, [(column, checker, is a URL)])


def _compiled(schema: Mapping[str, pl.DataType]) -> list:
    found = _COMPILED.get(id(schema))
    if found is None or found[0] is not schema:
        if len(_COMPILED) > 64:
            _COMPILED.clear()
        checks = [(column, _checker(dtype), column.endswith("_url")) for column, dtype in schema.items()]
        found = _COMPILED[id(schema)] = (schema, checks)
    return found[1]


def typed_row(
    row: Mapping[str, Any],
    schema: Mapping[str, pl.DataType],
    problems: list[Problem],
    required: tuple[str, ...] = ("model_id", "source", "name"),
) -> dict:
    """``row`` with every value of its column's type (``schema``), so a frame of such rows always builds.

    A value of the wrong type becomes None and a ``value.wrong_type`` problem (text is cleaned of lone
    surrogates, never refused), a ``*_url`` value that is no URL None and ``value.invalid_url``. A ``required``
    column that ends up None raises ValueError: the record is unreadable.
    """
    out = {}
    for column, check, url in _compiled(schema):
        value = row.get(column)
        if value is None:
            out[column] = None
            continue
        typed, expected = check(value)
        if expected is not None:
            detail = f"{column} = {show(value)}: expected {expected}; read as NULL"
            problems.append(Problem(column, "value.wrong_type", detail))
        elif url and not is_url(typed):
            problems.append(Problem(column, "value.invalid_url", f"{column} = {show(value)} is no URL; read as NULL"))
            typed = None
        out[column] = typed
    missing = [c for c in required if c in schema and out.get(c) is None]
    if missing:
        found = ", ".join(show(row.get(c)) for c in missing)
        raise ValueError(f"Expected {', '.join(missing)} to be text, found {found}")
    return out


def unreadable(row_key: str, exc: BaseException, table_name: str = QUARANTINE_TABLE) -> dict:
    """The ``record.unreadable`` quarantine entry of a record no catalog row could be made of."""
    reason = clean_text(str(exc))[:300] or "no detail"
    return {
        "table_name": table_name,
        "row_key": clean_text(row_key),
        "rule": "record.unreadable",
        "detail": f"Expected a record the catalog can read, found {type(exc).__name__}: {reason}; "
        "the model is left out of the catalog (fix the source record, or the parser if it is valid)",
    }


SEEN_SCHEMA = {"first_seen_at": pl.Datetime("us", "UTC"), "last_seen_at": pl.Datetime("us", "UTC")}


def record_object(payload: str) -> dict:
    """A raw record's payload as the JSON object it must be (ValueError, RecursionError otherwise)."""
    record = json.loads(payload)
    if not isinstance(record, dict):
        raise ValueError(f"the record is a JSON {type(record).__name__}, expected an object")
    return record


ROW_CHUNK = 5000  # catalog rows turned into a frame at a time


def rows_from_records(
    latest: pl.DataFrame,
    make_row: Callable[[dict, list[Problem]], dict],
    schema: Mapping[str, pl.DataType],
    source: str,
    issues: list[dict] | None,
) -> pl.DataFrame:
    """Catalog rows of ``latest`` (``lake.latest_records``: ``native_id``, ``payload``, seen-at times), one per record.

    ``make_row(record, problems)`` builds a row from the payload's object; the row's ``model_id`` is
    ``<source>:<native_id>``, and it is typed by :func:`typed_row` against ``schema`` plus the seen-at times.
    A record no row can be made of becomes a ``record.unreadable`` entry in ``issues``, and every problem an
    entry too, so the rows plus the ``record.unreadable`` entries account for every record.
    """
    issues = [] if issues is None else issues
    full = {**schema, **SEEN_SCHEMA}
    rows, frames = [], []
    for native_id, payload, first_seen, last_seen in latest.select("native_id", "payload", *SEEN_SCHEMA).iter_rows():
        model_id = f"{source}:{native_id}"
        problems: list[Problem] = []
        try:
            row = make_row(record_object(payload), problems)
            row.update(model_id=model_id, first_seen_at=first_seen, last_seen_at=last_seen)
            row = typed_row(row, full, problems)
        except Exception as exc:  # noqa: BLE001 - any record a stranger wrote: quarantined, never the build's end
            issues.append(unreadable(model_id, exc))
            continue
        issues.extend(p.entry(model_id) for p in problems)
        rows.append(row)
        if len(rows) == ROW_CHUNK:  # rows become columns a chunk at a time: memory flat in the number of records
            frames.append(pl.DataFrame(rows, schema=full))
            rows = []
    return pl.concat([*frames, pl.DataFrame(rows, schema=full)])
