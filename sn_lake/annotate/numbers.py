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
* ``record.unreadable``: a record no catalog row could be made of (:func:`unreadable`).
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

# field -> inclusive [low, high] of the whole numbers the catalog accepts for it
RANGES: dict[str, tuple[int, int]] = {
    "num_classes": (1, 1_000_000),
    "input_size": (1, 8192),  # side of the square input in pixels
    "downloads": (0, 2**62),
    "likes": (0, 2**62),
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
            field, "number.out_of_range",
            f"{field} = {show(value)} is out of range: expected a whole number in [{low}, {high}]; read as NULL",
        )  # fmt: skip
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
            field, "accuracy.out_of_range",
            f"{field} = {show(value)}{place} is out of range: expected a fraction in [0, 1] or a percentage in "
            "(1, 100]; read as NULL",
        )  # fmt: skip
    return number, None


def clean_text(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates (JSON escapes allow them, no Parquet or DuckDB string holds them)
    become '?'."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _checker(dtype: pl.DataType):
    """A function ``value -> (typed value, None)``, or ``(None, what was expected)``, for one column type."""
    if dtype == pl.String:
        return lambda v: (clean_text(v), None) if isinstance(v, str) else (None, "text")
    if dtype == pl.Boolean:
        return lambda v: (v, None) if isinstance(v, bool) else (None, "true or false")
    if dtype == pl.Float64:  # abs(NaN) < x is False: NaN is refused with the infinities
        finite = "a finite number"
        return lambda v: (float(v), None) if (_is_int(v) or isinstance(v, float)) and abs(v) < 1e300 else (None, finite)
    if dtype in _INT_BOUNDS:
        low, high = _INT_BOUNDS[dtype]
        wanted = f"a whole number in [{low}, {high}]"
        return lambda v: (v, None) if _is_int(v) and low <= v <= high else (None, wanted)
    if isinstance(dtype, pl.Datetime):
        return lambda v: (v, None) if isinstance(v, datetime) else (None, "a timestamp")
    raise ValueError(
        f"Expected a catalog column type (String, Boolean, Float64, Int32, Int64, Datetime), found {dtype}: "
        "add a check for it to sn_lake/annotate/numbers.py."
    )


_CHECKERS: dict[Any, Any] = {}


def typed_row(row: Mapping[str, Any], schema: Mapping[str, pl.DataType], problems: list[Problem],
              required: tuple[str, ...] = ("model_id", "source", "name")) -> dict:
    """``row`` with every value of its column's type (``schema``), so a frame of such rows always builds.

    A value of the wrong type becomes None and a ``value.wrong_type`` problem (text is cleaned of lone
    surrogates, never refused). A ``required`` column that ends up None raises ValueError: the record is unreadable.
    """
    out = {}
    for column, dtype in schema.items():
        value = row.get(column)
        if value is None:
            out[column] = None
            continue
        key = repr(dtype)
        check = _CHECKERS.get(key) or _CHECKERS.setdefault(key, _checker(dtype))
        typed, expected = check(value)
        if expected is not None:
            detail = f"{column} = {show(value)}: expected {expected}; read as NULL"
            problems.append(Problem(column, "value.wrong_type", detail))
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
        "table_name": table_name, "row_key": clean_text(row_key), "rule": "record.unreadable",
        "detail": f"Expected a record the catalog can read, found {type(exc).__name__}: {reason}; "
                  "the model is left out of the catalog (fix the source record, or the parser if it is valid)",
    }  # fmt: skip
