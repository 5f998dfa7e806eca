"""SecurityNet's table -> the lake: one raw record per crawl (the markdown as fetched, with its sha256)."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from pathlib import Path

from sn_lake import lake
from sn_lake.config import Settings, redact_userinfo
from sn_lake.http_client import HttpError, PoliteClient, RetryPolicy
from sn_lake.sources.location import SourceUnreachable, is_url
from sn_lake.sources.securitynet import NATIVE_ID, SOURCE
from sn_lake.sources.securitynet.parse import MODEL_TABLES, parse_tables


def fetch_table(location: str) -> str:
    """The markdown at ``location`` (an http(s) URL, fetched politely with retries, or a local path)."""
    if is_url(location):
        try:
            with PoliteClient(policy=RetryPolicy(attempts=4), timeout=30.0, name=SOURCE) as client:
                return client.get_text(location)
        except HttpError as exc:
            shown = redact_userinfo(location)  # an http://user:pass@ URL is never shown
            raise SourceUnreachable(f"Could not fetch the SecurityNet table from {shown}: {exc}") from exc
    path = Path(location).expanduser()
    if not path.is_file():
        raise SourceUnreachable(
            f"Expected the SecurityNet table at {path}, found no file: set SN_LAKE_SECURITYNET_URL to the table's URL "
            "or a local copy."
        )
    return path.read_text(encoding="utf-8")


def crawl(settings: Settings) -> dict:
    """Fetch the table into ``lake/raw/securitynet/`` as one raw record; returns the crawl summary.

    Raises :class:`SourceUnreachable` (nothing written) when the table cannot be fetched, and
    ValueError (nothing written) when what came back holds none of the three tables.
    """
    started = time.monotonic()
    location = settings.securitynet_url
    markdown = fetch_table(location)
    rows = parse_tables(markdown)
    counts = Counter(r.table for r in rows)
    if not any(counts[t] for t in (*MODEL_TABLES, "new")):
        shown = redact_userinfo(location)
        raise ValueError(
            f"Expected the SecurityNet markdown tables at {shown}, found {len(rows)} table rows and none under a "
            "benchmark/security/new-models heading: check SN_LAKE_SECURITYNET_URL points at Database/README.MD."
        )
    crawl_id = lake.new_crawl_id()
    sha256 = hashlib.sha256(markdown.encode("utf-8")).hexdigest()
    request_url = location if is_url(location) else Path(location).expanduser().resolve().as_uri()
    payload = {"format": "markdown", "sha256": sha256, "text": markdown}
    lake.write_raw(
        settings, SOURCE, crawl_id, 1, [{"native_id": NATIVE_ID, "request_url": request_url, "payload": payload}]
    )
    summary = {
        "records": 1,
        "steps": 1,
        "table_rows": len(rows),
        **{f"rows_{t}": counts[t] for t in ("benchmark", "security", "new")},
        "sha256": sha256,
        "url": redact_userinfo(request_url),  # the Dagster metadata and logs show it
        "seconds": round(time.monotonic() - started, 3),
    }
    lake.finish_crawl(settings, SOURCE, crawl_id, summary)
    return {"crawl_id": crawl_id, **summary}
