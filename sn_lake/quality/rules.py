"""The quality rules of every checked table, each a Great Expectations expectation on a pandas frame.

A rule either *rejects* a row (the row leaves its table for ``catalog.quarantine``, where its full
content is kept) or *flags* it (the row stays and ``catalog.quarantine`` notes why it is suspect).
Some rules look at a column derived from the table (``Rule.derive``), because GX validates columns,
not expressions: e.g. ``test_accuracy - 0.05`` for the overfitting sanity rule.

Great Expectations is slow to import, so expectations are built by functions called at validation
time (``Rule.expectation``), never at import.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from sn_lake.annotate.datasets import CATEGORIES, HUB_DATASET_ID
from sn_lake.evaluate.families import FAMILIES, Family

REJECT = "reject"
FLAG = "flag"

HUB_FLOOR_DATE = date(2022, 3, 2)  # the Hugging Face Hub's created_at for every repo older than that day
ORIGIN_PATTERN = r"^(computed|published:[a-z0-9_.-]+)$"
MODEL_ID_PATTERN = r"^[a-z0-9_-]+:.+$"
PURPOSES = ["benchmark", "security", "other"]
TRAIN_TEST_TOLERANCE = 0.05


@dataclass(frozen=True)
class Rule:
    """One rule: a name unique in its table, what happens to a failing row, and the GX expectation."""

    name: str
    action: str  # REJECT or FLAG
    description: str
    columns: tuple[str, ...]  # the table columns the rule needs; a table without them skips the rule
    expectation: Callable[[], Any]  # builds the GX expectation (GX imported only when called)
    derive: Callable[[pd.DataFrame], pd.DataFrame] | None = None  # adds derived columns first
    key_unique: bool = False  # a uniqueness rule: the first row of each key stays, later ones fail


@dataclass(frozen=True)
class TableRules:
    """The rules of one table, the columns that name a row, and the order that decides which
    duplicate is kept (the first)."""

    table: str
    key_columns: tuple[str, ...]
    order_by: str
    rules: tuple[Rule, ...] = field(default_factory=tuple)


def _gx():
    import great_expectations as gx

    return gx


def not_null(column: str, action: str = REJECT) -> Rule:
    return Rule(
        f"{column}_not_null",
        action,
        f"{column} is never NULL.",
        (column,),
        lambda: _gx().expectations.ExpectColumnValuesToNotBeNull(column=column),
    )


def unique(columns: tuple[str, ...]) -> Rule:
    name = "_".join(columns) + "_unique" if len(columns) == 1 else "key_unique"
    if len(columns) == 1:
        build = lambda: _gx().expectations.ExpectColumnValuesToBeUnique(column=columns[0])  # noqa: E731
    else:
        build = lambda: _gx().expectations.ExpectCompoundColumnsToBeUnique(  # noqa: E731
            column_list=list(columns), ignore_row_if="never"
        )
    return Rule(
        name,
        REJECT,
        f"({', '.join(columns)}) names one row: later duplicates are quarantined.",
        columns,
        build,
        key_unique=True,
    )


def in_range(column: str, low: float = 0.0, high: float = 1.0) -> Rule:
    return Rule(
        f"{column}_in_{low:g}_{high:g}".replace("-", "minus"),
        REJECT,
        f"{column} is in [{low:g}, {high:g}] (or NULL).",
        (column,),
        lambda: _gx().expectations.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high),
    )


def matches(column: str, pattern: str, action: str = REJECT) -> Rule:
    return Rule(
        f"{column}_format",
        action,
        f"{column} matches {pattern}.",
        (column,),
        lambda: _gx().expectations.ExpectColumnValuesToMatchRegex(column=column, regex=pattern),
    )


def dataset_known(action: str = FLAG) -> Rule:
    known = "|".join(re.escape(name) for name in sorted(CATEGORIES))
    pattern = f"^(?:{known}|{HUB_DATASET_ID})$"
    return Rule(
        "dataset_known",
        action,
        "dataset is one of our dataset aliases (sn_lake.annotate.datasets), a Hub dataset id "
        "(owner/name, lower case) or NULL.",
        ("dataset",),
        lambda: _gx().expectations.ExpectColumnValuesToMatchRegex(column="dataset", regex=pattern),
    )


def _created_on(frame: pd.DataFrame) -> pd.DataFrame:
    created = pd.to_datetime(frame["created_at"], utc=True)
    return frame.assign(_created_on=created.dt.strftime("%Y-%m-%d"))


def _test_accuracy_minus_tolerance(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(_test_accuracy_minus_tolerance=frame["test_accuracy"] - TRAIN_TEST_TOLERANCE)


def results_rules(family: Family) -> TableRules:
    """The rules of one attack family's results table, from its registry entry (sn_lake.evaluate.families)."""
    extra: tuple[Rule, ...] = tuple(in_range(c, -1.0, 1.0) for c in family.differences)
    if family.train_not_below_test:
        extra += (
            Rule(
                "train_accuracy_not_below_test",
                FLAG,
                f"train_accuracy >= test_accuracy - {TRAIN_TEST_TOLERANCE} (a model rarely does better on "
                "unseen data).",
                ("train_accuracy", "test_accuracy"),
                lambda: _gx().expectations.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A="train_accuracy",
                    column_B="_test_accuracy_minus_tolerance",
                    or_equal=True,
                    ignore_row_if="either_value_is_missing",
                ),
                derive=_test_accuracy_minus_tolerance,
            ),
        )
    return result_table_rules(family.table, family.key, tuple(in_range(c) for c in family.fractions), extra)


def result_table_rules(
    table: str, key: tuple[str, ...], checks: tuple[Rule, ...], extra: tuple[Rule, ...] = ()
) -> TableRules:
    """The rules every ``results.*`` table shares (ids, origin, its key ``model_id, origin, config_hash, *key``
    unique, the dataset known), with the table's own ``checks`` before the dataset rule and ``extra`` after it."""
    key = ("model_id", "origin", "config_hash", *key)
    return TableRules(
        table=table,
        key_columns=key,
        order_by="computed_at DESC NULLS LAST",
        rules=(
            not_null("model_id"),
            matches("model_id", MODEL_ID_PATTERN),
            matches("origin", ORIGIN_PATTERN),
            unique(key),
            *checks,
            dataset_known(),
            *extra,
        ),
    )


# Published results beside the attack families' tables (docs/published_results.md), written with the catalog.
PUBLISHED_TABLES = (
    result_table_rules(
        "results.corruption",
        ("benchmark", "corruption", "severity"),
        (in_range("accuracy"), in_range("clean_accuracy"), in_range("severity", 1, 5)),
    ),
    result_table_rules(
        "results.distribution_shift",
        ("dataset", "img_size"),
        (in_range("top1"), in_range("top5"), in_range("top1_diff", -1.0, 1.0), in_range("top5_diff", -1.0, 1.0)),
    ),
)


def current_year() -> int:
    return datetime.now(UTC).year


TABLES: dict[str, TableRules] = {
    t.table: t
    for t in (
        TableRules(
            table="catalog.models",
            key_columns=("model_id",),
            order_by="last_seen_at DESC",
            rules=(
                not_null("model_id"),
                unique(("model_id",)),
                matches("model_id", MODEL_ID_PATTERN),
                not_null("source"),
                Rule(
                    "num_classes_at_least_2",
                    REJECT,
                    "A classifier has num_classes >= 2 (NULL when it has no head).",
                    ("num_classes",),
                    lambda: _gx().expectations.ExpectColumnValuesToBeBetween(column="num_classes", min_value=2),
                ),
                in_range("reported_accuracy"),
                Rule(
                    "purpose_known",
                    REJECT,
                    f"purpose is one of {PURPOSES} or NULL.",
                    ("purpose",),
                    lambda: _gx().expectations.ExpectColumnValuesToBeInSet(column="purpose", value_set=PURPOSES),
                ),
                Rule(
                    "created_at_not_hub_floor_date",
                    FLAG,
                    f"created_at is never the Hub's floor date {HUB_FLOOR_DATE} (that means unknown: store NULL).",
                    ("created_at",),
                    lambda: _gx().expectations.ExpectColumnValuesToNotBeInSet(
                        column="_created_on", value_set=[HUB_FLOOR_DATE.isoformat()]
                    ),
                    derive=_created_on,
                ),
                dataset_known(),
            ),
        ),
        TableRules(
            table="catalog.papers",
            key_columns=("paper_id",),
            order_by="paper_id",
            rules=(
                not_null("paper_id"),
                unique(("paper_id",)),
                Rule(
                    "year_in_range",
                    REJECT,
                    "year is between 1990 and this year (or NULL).",
                    ("year",),
                    lambda: _gx().expectations.ExpectColumnValuesToBeBetween(
                        column="year", min_value=1990, max_value=current_year()
                    ),
                ),
                Rule(
                    "n_authors_positive",
                    REJECT,
                    "n_authors is at least 1 (or NULL).",
                    ("n_authors",),
                    lambda: _gx().expectations.ExpectColumnValuesToBeBetween(column="n_authors", min_value=1),
                ),
            ),
        ),
        *(results_rules(family) for family in FAMILIES.values()),
        *PUBLISHED_TABLES,
    )
}
