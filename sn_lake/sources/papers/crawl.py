"""Fetch paper metadata for a list of arXiv ids from every API into ``lake/raw/papers/``, politely.

Incremental: an API is only asked about the ids it has not answered yet (found or not), unless
``full``. Each request's answer is one lake step written before the crawl state moves on, so a
killed crawl resumes with what is missing. The APIs run in an order that feeds the later ones:
arXiv, Semantic Scholar and Papers with Code by arXiv id; OpenAlex by the DOIs found so far; DBLP
by the titles found so far.

Failing endpoints: the public default endpoint of an API that cannot be connected to at all
(offline: one try) or that still fails after the retries (a rate limit) is skipped for this run with
a warning (``summary["unreachable"]``, reasons in ``summary["errors"]``) and the others still run;
the ids it did not answer are asked next run. An endpoint the user configured (``SN_LAKE_*_URL``)
that fails raises :class:`PapersError`, since that is a mistake to fix.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterable

import polars as pl

from sn_lake import http_client as http
from sn_lake import lake, progress
from sn_lake.annotate.papers import arxiv_ids
from sn_lake.config import Settings, redact_userinfo
from sn_lake.sources.papers import arxiv, dblp, openalex, pwc, semantic_scholar

SOURCE = "papers"
APIS = (arxiv, semantic_scholar, pwc, openalex, dblp)
ENDPOINT_SETTING = {
    arxiv.NAME: "arxiv_url",
    semantic_scholar.NAME: "s2_url",
    pwc.NAME: "pwc_url",
    openalex.NAME: "openalex_url",
    dblp.NAME: "dblp_url",
}
MODULES = {api.NAME: api for api in APIS}

log = logging.getLogger(__name__)


class PapersError(RuntimeError):
    """A paper-metadata API failed for good."""


def split_paper_ids(values: Iterable[str]) -> tuple[list[str], list[str]]:
    """The distinct arXiv ids among paper ids, and the paper ids that are not arXiv ids (no API here takes those)."""
    ids: set[str] = set()
    other: list[str] = []
    for value in values:
        found = arxiv_ids(value)
        if found:
            ids.update(found)
        else:
            other.append(value)
    return sorted(ids), other


# the frame of latest answers the resolution reads (sn_lake.catalog.papers.build)
LATEST_SCHEMA = {
    "api": pl.String,
    "paper_id": pl.String,
    "record": pl.String,
    "request_url": pl.String,
    "fetched_at": pl.Datetime("us", "UTC"),
}


def latest_records(settings: Settings) -> pl.DataFrame:
    """The latest raw answer of each (api, paper id): ``api``, ``paper_id``, ``record`` (the payload),
    ``request_url``, ``fetched_at``."""
    raw = lake.read_raw(settings, SOURCE)
    if raw.is_empty():
        return pl.DataFrame(schema=LATEST_SCHEMA)
    latest = lake.latest_records(raw, ("payload", "request_url"))  # the newest answer was fetched when last seen
    parts = latest["native_id"].str.split_exact(":", 1).struct.rename_fields(["api", "paper_id"]).struct.unnest()
    rest = latest.select(pl.col("payload").alias("record"), "request_url", pl.col("last_seen_at").alias("fetched_at"))
    return pl.concat([parts, rest], how="horizontal").sort("api", "paper_id")


def answers(settings: Settings) -> dict[str, dict[str, dict]]:
    """Per API, per paper id it answered (found or not), the latest payload kept in the lake."""
    out: dict[str, dict[str, dict]] = {api: {} for api in MODULES}
    for row in latest_records(settings).iter_rows(named=True):
        out.setdefault(row["api"], {})[row["paper_id"]] = json.loads(row["record"])
    return out


def answered(settings: Settings) -> dict[str, set[str]]:
    """Per API, the paper ids it has answered (found or not)."""
    return {api: set(by_id) for api, by_id in answers(settings).items()}


def _settled(payload: dict | None, asked: object = None) -> bool:
    """Whether an earlier answer stands: it found the paper, or it was asked with what we would ask now.

    OpenAlex is asked by DOI and DBLP by title; a "not found" given for other DOIs or another title
    (say, before Semantic Scholar named the published DOI) is asked again.
    """
    if payload is None:
        return False
    return payload.get("record") is not None or asked is None or payload.get("asked") == asked


def known_values(settings: Settings, field: str, order: Iterable[str]) -> dict[str, str]:
    """Per paper, the first ``field`` value the APIs in ``order`` stated (titles for DBLP, DOIs for OpenAlex)."""
    found: dict[str, dict[str, str]] = {}
    for row in latest_records(settings).iter_rows(named=True):
        payload = json.loads(row["record"])
        if payload.get("record") is None:
            continue
        value = MODULES[row["api"]].candidates(payload["record"]).get(field, (None, None))[0]
        if value:
            found.setdefault(row["paper_id"], {})[row["api"]] = value
    return {pid: next(v[a] for a in order if a in v) for pid, v in found.items() if any(a in v for a in order)}


def _client(settings: Settings, name: str, policy: http.RetryPolicy) -> http.PoliteClient:
    interval = settings.arxiv_interval_s if name == arxiv.NAME else settings.paper_api_interval_s
    return http.PoliteClient(policy=policy, min_interval=interval, name=name, timeout=30.0)


def crawl(
    settings: Settings,
    paper_ids: Iterable[str],
    full: bool = False,
    policy: http.RetryPolicy | None = None,
    apis: Iterable[str] | None = None,
) -> dict:
    """Ask every API (or those named in ``apis``) about the ids it has not answered; returns the crawl summary."""
    started = time.monotonic()
    policy = policy or http.RetryPolicy()
    wanted = sorted(set(paper_ids))
    state = lake.load_state(settings, SOURCE)
    if not state.get("crawl_id") or state.get("finished"):
        state = {"crawl_id": lake.new_crawl_id(), "step": 1, "finished": False}
    summary: dict = {
        "papers": len(wanted),
        "records": 0,
        "requests": 0,
        "asked": {},
        "found": {},
        "unreachable": [],
        "errors": {},
    }
    done = {} if full else answers(settings)
    for module in APIS:
        name = module.NAME
        if apis is not None and name not in apis:
            continue
        earlier = done.get(name, {})
        if name == openalex.NAME:
            dois = known_values(settings, "doi", (semantic_scholar.NAME, dblp.NAME))
            wanted_dois = {p: [d for d in (dois.get(p), openalex.arxiv_doi(p)) if d] for p in wanted}
            args = {p: v for p, v in wanted_dois.items() if not _settled(earlier.get(p), v)}
        elif name == dblp.NAME:
            titles = known_values(settings, "title", (arxiv.NAME, semantic_scholar.NAME, pwc.NAME))
            args = {
                p: titles[p] for p in wanted if p in titles and not _settled(earlier.get(p), titles[p])
            }  # no title yet: later
        else:
            args = [p for p in wanted if not _settled(earlier.get(p))]
        summary["asked"][name] = len(args)
        summary["found"][name] = 0
        if not args:
            continue
        setting = ENDPOINT_SETTING[name]
        base_url = getattr(settings, setting)
        public = settings.is_public_endpoint(setting)
        probe = public
        bar = progress.Progress(f"papers {name}", total=len(args), unit="papers")
        with _client(settings, name, dataclasses.replace(policy, attempts=1) if probe else policy) as client:
            batches = module.fetch(client, base_url, args)
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                except http.HttpError as exc:
                    if probe and exc.status is not None:  # it answered, so it is online: retry with the full policy
                        client.policy, probe = policy, False
                        batches = module.fetch(client, base_url, args)
                        continue
                    if public:
                        reason = (
                            "cannot be reached (offline?)"
                            if probe and exc.status is None
                            else "failed after the retries"
                        )
                        log.warning(
                            "%s at %s %s; the ids it did not answer are asked next run: %s",
                            name,
                            redact_userinfo(base_url),
                            reason,
                            exc,
                        )
                        summary["unreachable"].append(name)
                        summary["errors"][name] = str(exc)[:300]
                        break
                    raise PapersError(
                        f"{name} at {redact_userinfo(base_url)} failed ({exc}); the answers so far are kept: "
                        f"fix SN_LAKE_{setting.upper()} or the service and run the crawl again (it resumes)."
                    ) from exc
                client.policy = policy  # the first answer came: from now on the full retry policy
                probe = False
                fetched_at = lake.utcnow()
                records = [
                    {
                        "native_id": f"{name}:{pid}",
                        "request_url": batch.request_url,
                        "fetched_at": fetched_at,
                        "payload": {"api": name, "paper_id": pid, "record": record}
                        | ({"asked": args[pid]} if isinstance(args, dict) else {}),
                    }
                    for pid, record in batch.records.items()
                ]
                lake.write_raw(settings, SOURCE, state["crawl_id"], state["step"], records)
                state["step"] += 1
                lake.save_state(settings, SOURCE, state)
                summary["records"] += len(records)
                summary["found"][name] += sum(r is not None for r in batch.records.values())
                bar.update(len(batch.records))
            bar.close()
            summary["requests"] += client.stats.get("requests", 0)
    summary["seconds"] = round(time.monotonic() - started, 3)
    if summary["records"]:
        lake.finish_crawl(settings, SOURCE, state["crawl_id"], {**summary, "steps": state["step"] - 1})
        lake.save_state(settings, SOURCE, {"crawl_id": state["crawl_id"], "finished": True})
    return {"crawl_id": state["crawl_id"] if summary["records"] else None, **summary}
