"""Fetch timm's six result tables into ``lake/raw/timm_results/``: one raw record per CSV, resumably.

``SN_LAKE_TIMM_RESULTS_URL`` is a local folder or the http(s) URL of the ``results/`` folder's raw files. The
file names are fixed (:data:`FILES`), so nothing is listed. Each table becomes one record whose payload keeps the
text as received; a shifted-set table the server answers 404/410 is recorded with its status (the catalog build
notes it), while a missing ImageNet table stops the crawl before anything is written. After the last table a
manifest record (native id :data:`~sn_lake.sources.location.MANIFEST`) marks the crawl complete; the state is saved
after every table (:class:`~sn_lake.sources.location.FolderCrawl`).
"""

from __future__ import annotations

from pathlib import Path

from sn_lake import lake
from sn_lake.config import Settings, redact_userinfo
from sn_lake.http_client import HttpError, PoliteClient
from sn_lake.sources.location import FolderCrawl, SourceUnreachable, client_for, file_payload, is_url
from sn_lake.sources.timm_results import SOURCE

IMAGENET = "results-imagenet.csv"
FILES = (
    IMAGENET,
    "results-imagenet-real.csv",
    "results-imagenetv2-matched-frequency.csv",
    "results-sketch.csv",
    "results-imagenet-a.csv",
    "results-imagenet-r.csv",
)


def fetch_table(settings: Settings, client: PoliteClient, name: str) -> dict:
    """One lake record for the table ``name``: its text, or the status that said it is absent."""
    location = settings.timm_results_url
    if is_url(location):
        url = f"{location.rstrip('/')}/{name}"
        try:
            answer = client.fetch("GET", url, parse="bytes", ok_statuses=frozenset({404, 410}))
        except HttpError as exc:
            raise SourceUnreachable(f"Could not fetch timm's {name} from {redact_userinfo(url)}: {exc}") from exc
        status, body = answer.status, answer.data
    else:
        folder = Path(location).expanduser().resolve()
        if not folder.is_dir():
            raise SourceUnreachable(
                f"Expected timm's results/ folder at {folder}, found no folder: set "
                "SN_LAKE_TIMM_RESULTS_URL to a local copy or to the upstream raw URL."
            )
        url = (folder / name).as_uri()
        status, body = (200, (folder / name).read_bytes()) if (folder / name).is_file() else (404, None)
    return {"native_id": name, "request_url": url, "payload": file_payload(name, status, body)}


def crawl(settings: Settings, client: PoliteClient | None = None) -> dict:
    """Fetch the six tables into the lake (resuming an unfinished crawl of the same location); returns the summary.

    Raises :class:`SourceUnreachable` when the tables cannot be fetched (nothing new is marked complete).
    """
    run = FolderCrawl(settings, SOURCE, redact_userinfo(settings.timm_results_url))
    with client_for(client, SOURCE, timeout=60.0) as client:
        state = run.unfinished_state("next")
        if state is None:
            first = fetch_table(settings, client, IMAGENET)
            if first["payload"]["status"] != 200:
                raise SourceUnreachable(
                    f"Expected timm's {IMAGENET} at {first['request_url']}, the server answered "
                    f"{first['payload']['status']}: check that SN_LAKE_TIMM_RESULTS_URL points at results/."
                )
            state = {"url": run.shown, "crawl_id": lake.new_crawl_id(), "next": 1, "missing": []}
            lake.write_raw(settings, SOURCE, state["crawl_id"], 1, [first])
            lake.save_state(settings, SOURCE, state)
        crawl_id = state["crawl_id"]
        while state["next"] < len(FILES):
            record = fetch_table(settings, client, FILES[state["next"]])
            if record["payload"]["status"] != 200:
                state["missing"].append(FILES[state["next"]])
            state["next"] += 1
            lake.write_raw(settings, SOURCE, crawl_id, state["next"], [record])
            lake.save_state(settings, SOURCE, state)
    counts = {
        "records": len(FILES) + 1,
        "steps": len(FILES) + 1,
        "tables": len(FILES) - len(state["missing"]),
        "missing_tables": ", ".join(state["missing"]) or None,
    }
    return run.finish(crawl_id, list(FILES), len(FILES) + 1, counts)
