"""The lake: raw crawl records as Parquet files, and the crawl state that lets a crawl resume.

Layout under ``$SN_LAKE_HOME/lake``::

    raw/<source>/crawl_id=<id>/step-000001.parquet   one file per crawl step (a page, a batch)
    raw/<source>/crawl_id=<id>/_crawl.json           written when the crawl finished
    state/<source>.json                              cursor / high-water mark of the current crawl

Every file is written to a temporary name and renamed, so a crawl killed at any moment leaves
either a whole step or none of it. What is written never holds a URL's credentials: request URLs,
crawl summaries and state show ``http://***@host`` (``sn_lake.config.redact_userinfo``).

A step file that cannot be read (truncated, overwritten with other bytes, not our columns) is
skipped with a warning naming it; :func:`read_raw` hands it to the caller as an
:class:`UnreadableFile`, and the catalog build quarantines it (``lake.unreadable_step``) and
builds the rest of the source.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from sn_lake.config import Settings, redact_userinfo

log = logging.getLogger(__name__)

RAW_SCHEMA = {
    "source": pl.String,
    "crawl_id": pl.String,
    "step": pl.Int64,
    "native_id": pl.String,
    "fetched_at": pl.Datetime("us", "UTC"),
    "request_url": pl.String,
    "payload": pl.String,  # the record exactly as received, as JSON text
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_crawl_id() -> str:
    """A sortable, unique crawl id such as ``20261130T110203Z-3fa9c1``."""
    return f"{utcnow():%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def raw_dir(settings: Settings, source: str) -> Path:
    return settings.lake_dir / "raw" / source


def zoo_root(settings: Settings) -> Path:
    """``$SN_LAKE_HOME/zoo``: the demo zoo's model folders, which the ``local`` source crawls (the one place it is
    set)."""
    return settings.home / "zoo"


def crawl_dir(settings: Settings, source: str, crawl_id: str) -> Path:
    return raw_dir(settings, source) / f"crawl_id={crawl_id}"


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _utf8(text: Any) -> Any:
    """Text as valid UTF-8 (a lone surrogate, which JSON escapes allow and Parquet does not, becomes '?')."""
    if not isinstance(text, str):
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def write_raw(settings: Settings, source: str, crawl_id: str, step: int, records: Iterable[dict]) -> Path:
    """Append one crawl step's records (``native_id``, ``request_url``, ``payload``, ``fetched_at``).

    The request URL is written without its credentials; a payload given as an object is written as JSON.
    """
    rows = [
        {
            "source": source,
            "crawl_id": crawl_id,
            "step": step,
            "native_id": _utf8(r["native_id"]),
            "fetched_at": r.get("fetched_at") or utcnow(),
            "request_url": redact_userinfo(_utf8(r["request_url"])),
            "payload": _utf8(r["payload"])
            if isinstance(r["payload"], str)
            else json.dumps(r["payload"], sort_keys=True),
        }
        for r in records
    ]
    frame = pl.DataFrame(rows, schema=RAW_SCHEMA)
    path = crawl_dir(settings, source, crawl_id) / f"step-{step:06d}.parquet"
    _atomic_write(path, frame.write_parquet)
    return path


def raw_files(settings: Settings, source: str) -> list[Path]:
    return sorted(raw_dir(settings, source).glob("crawl_id=*/step-*.parquet"))


def iter_steps(
    settings: Settings, source: str, crawl_id: str | None = None, columns: list[str] | None = None
) -> Iterator[pl.DataFrame]:
    """The step files of one crawl (every crawl when ``crawl_id`` is None), one frame at a time in step order:
    a reader whose memory is one step, however large the crawl."""
    if crawl_id:
        files = sorted(crawl_dir(settings, source, crawl_id).glob("step-*.parquet"))
    else:
        files = raw_files(settings, source)
    for path in files:
        try:
            yield read_step(settings, path, columns)
        except UnreadableStepError as exc:
            log.warning("%s", exc)


@dataclass(frozen=True)
class UnreadableFile:
    """A lake file that could not be read: where it is (``relative`` to the lake folder) and why."""

    path: Path
    relative: str
    reason: str


class UnreadableStepError(ValueError):
    """A step file that is not a Parquet file of raw records; ``file`` says which and why."""

    def __init__(self, file: UnreadableFile):
        super().__init__(
            f"Expected a Parquet file of raw records at {file.path}, found an unreadable file ({file.reason}); "
            "it is skipped: delete it, or move it away, and crawl the source again to replace it."
        )
        self.file = file


def _relative(settings: Settings, path: Path) -> str:
    try:
        return path.relative_to(settings.lake_dir).as_posix()
    except ValueError:
        return path.as_posix()


_READ_ERRORS = (Exception, pl.exceptions.PanicException)  # a corrupt file can make polars' reader panic


def read_step(settings: Settings, path: Path, columns: list[str] | None = None) -> pl.DataFrame:
    """One step file's records (``columns``, default all of :data:`RAW_SCHEMA`); raises
    :class:`UnreadableStepError` naming the file when it is not a Parquet file of raw records."""
    wanted = columns or list(RAW_SCHEMA)
    try:
        frame = pl.read_parquet(path, columns=wanted, hive_partitioning=False)
        wrong = [
            f"{c} is {frame.schema[c]}, expected {RAW_SCHEMA[c]}" for c in wanted if frame.schema[c] != RAW_SCHEMA[c]
        ]
    except _READ_ERRORS as exc:
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else 'no detail'}"
        raise UnreadableStepError(UnreadableFile(path, _relative(settings, path), reason)) from exc
    if wrong:
        raise UnreadableStepError(UnreadableFile(path, _relative(settings, path), "columns " + "; ".join(wrong)))
    return frame


def read_raw(settings: Settings, source: str, unreadable: list[UnreadableFile] | None = None) -> pl.DataFrame:
    """Every raw record a source has ever delivered (empty frame when it has none).

    A step file that cannot be read is left out with a warning naming it, and appended to ``unreadable``
    when a list is given (the catalog build quarantines it); the other files are read as usual.
    """
    files = raw_files(settings, source)
    if not files:
        return pl.DataFrame(schema=RAW_SCHEMA)
    try:  # one read of every file: the usual case
        frame = pl.read_parquet(files, hive_partitioning=False).select(list(RAW_SCHEMA))
        if frame.schema == pl.Schema(RAW_SCHEMA):
            return frame
    except _READ_ERRORS:
        pass  # find the file(s) at fault, one at a time
    frames = []
    for path in files:
        try:
            frames.append(read_step(settings, path))
        except UnreadableStepError as exc:
            log.warning("%s", exc)
            if unreadable is not None:
                unreadable.append(exc.file)
    return pl.concat(frames) if frames else pl.DataFrame(schema=RAW_SCHEMA)


# which of two records of one native id is the newer: the later fetch, then the later crawl, then the later step
NEWEST_LAST = ("fetched_at", "crawl_id", "step")


def latest_records(raw: pl.DataFrame, columns: Iterable[str] = ("payload",)) -> pl.DataFrame:
    """One row per ``native_id``: the ``columns`` of its newest record (:data:`NEWEST_LAST`) and when it was first and
    last seen, sorted by ``native_id``. Every source's catalog, and the papers crawl, start from this."""
    order = [c for c in NEWEST_LAST if c in raw.columns]
    return (
        raw.sort(order, maintain_order=True)
        .group_by("native_id")
        .agg(
            *(pl.col(c).last() for c in columns),
            pl.col("fetched_at").min().alias("first_seen_at"),
            pl.col("fetched_at").max().alias("last_seen_at"),
        )
        .sort("native_id")
    )


def finish_crawl(settings: Settings, source: str, crawl_id: str, summary: dict) -> Path:
    """Mark a crawl complete with its summary (records, steps, requests, timing)."""
    path = crawl_dir(settings, source, crawl_id) / "_crawl.json"
    body = json.dumps(
        {"source": source, "crawl_id": crawl_id, "finished_at": utcnow().isoformat(), **summary}, indent=2
    )
    body = redact_userinfo(body)  # an endpoint with credentials is shown as http://***@host
    _atomic_write(path, lambda tmp: tmp.write_text(body))
    return path


def finished_crawls(settings: Settings, source: str, unreadable: list[UnreadableFile] | None = None) -> list[dict]:
    """Summaries of the source's finished crawls, oldest first. A summary that is not a JSON object with a
    ``crawl_id`` and a ``finished_at`` is left out with a warning (and appended to ``unreadable``)."""
    crawls = []
    for path in sorted(raw_dir(settings, source).glob("crawl_id=*/_crawl.json")):
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            ok = isinstance(body, dict) and all(isinstance(body.get(k), str) for k in ("crawl_id", "finished_at"))
            reason = "" if ok else "a JSON value without crawl_id and finished_at"
        except (OSError, ValueError, RecursionError) as exc:
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        if reason:
            log.warning(
                "Expected a crawl summary (JSON) at %s, found %s; it is skipped: delete it or crawl again.",
                path,
                reason,
            )
            if unreadable is not None:
                unreadable.append(UnreadableFile(path, _relative(settings, path), reason))
            continue
        crawls.append(body)
    return crawls


def sources(settings: Settings) -> list[str]:
    root = settings.lake_dir / "raw"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []


def state_path(settings: Settings, source: str) -> Path:
    return settings.lake_dir / "state" / f"{source}.json"


def load_state(settings: Settings, source: str) -> dict:
    path = state_path(settings, source)
    return json.loads(path.read_text()) if path.exists() else {}


def save_state(settings: Settings, source: str, state: dict) -> None:
    body = redact_userinfo(json.dumps(state, indent=2, sort_keys=True, default=str))  # no URL's credentials
    _atomic_write(state_path(settings, source), lambda tmp: tmp.write_text(body))


def summary(settings: Settings) -> list[dict]:
    """Per source: raw records, distinct models, finished crawls and the last one."""
    rows = []
    for source in sources(settings):
        raw = read_raw(settings, source)
        crawls = finished_crawls(settings, source)
        last = crawls[-1] if crawls else {}
        rows.append(
            {
                "source": source,
                "raw_records": raw.height,
                "models": raw["native_id"].n_unique(),
                "crawls": len(crawls),
                "last_crawl_id": last.get("crawl_id"),
                "last_crawl_finished_at": last.get("finished_at"),
            }
        )
    return rows
