"""GitHub and Zenodo answers for the weights links the asset passes in -> ``lake/raw/weights/``, each link asked
once: the lake is the crawl's state (see the package)."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable

from sn_lake import http_client as http
from sn_lake import lake
from sn_lake.config import Settings
from sn_lake.sources.weights import SOURCE
from sn_lake.sources.weights.parse import Link, files_of, parse_link
from sn_lake.weight_formats import SNIFF_BYTES

log = logging.getLogger(__name__)


class WeightsError(RuntimeError):
    """A user-configured GitHub or Zenodo endpoint failed."""


def _github(client: http.PoliteClient, base: str, link: Link) -> dict:
    """Release assets (every page) and the files at the link's folder (one level) of a repository."""
    repo_url = f"{base}/repos/{link.key}"
    releases, url = [], f"{repo_url}/releases"
    params: dict | None = {"per_page": 100}
    while url:
        page = client.fetch("GET", url, params=params, ok_statuses=frozenset({404}))
        if page.status == 404:
            return {"status": "not_found", "request_url": page.url}
        releases.extend(page.data or [])
        url, params = page.next_link, None  # the next link carries its own query
    contents_url = f"{repo_url}/contents/{link.path}".rstrip("/")
    contents = client.fetch(
        "GET", contents_url, params={"ref": link.ref} if link.ref else None, ok_statuses=frozenset({404})
    )
    files = contents.data if isinstance(contents.data, list) else ([contents.data] if contents.data else [])
    return {
        "status": "ok",
        "request_url": f"{repo_url}/releases",
        "releases": releases,
        "contents": files,
        "contents_status": contents.status,
    }


def _zenodo(client: http.PoliteClient, base: str, link: Link) -> dict:
    """A Zenodo record as received (its files: the legacy list, or InvenioRDM's ``entries``)."""
    page = client.fetch("GET", f"{base}/records/{link.key}", ok_statuses=frozenset({404, 410}))
    if page.status in (404, 410):
        return {"status": "not_found", "request_url": page.url}
    return {"status": "ok", "request_url": page.url, "record": page.data}


def _sniff(client: http.PoliteClient, url: str) -> str | None:
    """The first bytes of a file through a ranged GET, as hex (None when the server refuses)."""
    try:
        got = client.fetch("GET", url, headers={"Range": f"bytes=0-{SNIFF_BYTES - 1}"}, parse="bytes")
    except http.HttpError as exc:
        log.warning("could not read the first bytes of %s: %s", url, exc)
        return None
    return got.data[:SNIFF_BYTES].hex()


def fetched_links(settings: Settings) -> set[str]:
    """The links (``Link.native_id``) already asked about: the lake is the weights crawl's state."""
    raw = lake.read_raw(settings, SOURCE)
    return set(raw["native_id"]) if not raw.is_empty() else set()


def crawl(
    settings: Settings,
    urls: Iterable[str],
    full: bool = False,
    sniff_bytes: bool = False,
    policy: http.RetryPolicy | None = None,
) -> dict:
    """Ask GitHub/Zenodo about every link not asked before (all with ``full``); returns the crawl summary.

    A public default endpoint (``https://api.github.com``, ``https://zenodo.org/api``) that cannot be
    connected to at all (offline), or that still fails after the retries (GitHub's hourly limit without
    ``GITHUB_TOKEN``), is skipped for this run with a warning (``summary["unreachable"]``, the reason in
    ``summary["errors"]``); the links not asked yet are asked on the next run. A configured endpoint
    (``SN_LAKE_GITHUB_URL``, ``SN_LAKE_ZENODO_URL``) that fails raises :class:`WeightsError`.
    ``GITHUB_TOKEN`` goes to the GitHub API only, never to Zenodo or to a file download.
    """
    started = time.monotonic()
    policy = policy or http.RetryPolicy()
    links = sorted({link for link in map(parse_link, urls) if link}, key=lambda k: k.native_id)
    done = set() if full else fetched_links(settings)
    todo = [link for link in links if link.native_id not in done]
    summary: dict = {
        "links": len(links),
        "asked": len(todo),
        "records": 0,
        "not_found": 0,
        "unreachable": [],
        "errors": {},
    }
    crawl_id, step = lake.new_crawl_id(), 1
    clients = {
        "github": http.PoliteClient(token=settings.github_token, policy=policy, name="github", timeout=30.0),
        "zenodo": http.PoliteClient(policy=policy, name="zenodo", timeout=30.0),
        "download": http.PoliteClient(policy=policy, name="download", timeout=30.0),
    }
    public = {host: settings.is_public_endpoint(f"{host}_url") for host in ("github", "zenodo")}
    probing = dict(public)
    try:
        for link in todo:
            if link.host in summary["unreachable"]:
                continue
            base = getattr(settings, f"{link.host}_url").rstrip("/")
            client = clients[link.host]
            client.policy = dataclasses.replace(policy, attempts=1) if probing[link.host] else policy
            ask = _github if link.host == "github" else _zenodo
            try:
                try:
                    answer = ask(client, base, link)
                except http.HttpError as exc:
                    if not (probing[link.host] and exc.status is not None):
                        raise
                    client.policy = policy  # it answered, so it is online: the full retry policy from now on
                    answer = ask(client, base, link)
            except http.HttpError as exc:
                if public[link.host]:
                    reason = (
                        "cannot be reached (offline?)"
                        if probing[link.host] and exc.status is None
                        else "failed after the retries"
                    )
                    log.warning("%s at %s %s; its remaining links are asked next run: %s", link.host, base, reason, exc)
                    summary["unreachable"].append(link.host)
                    summary["errors"][link.host] = str(exc)[:300]
                    continue
                raise WeightsError(
                    f"{link.host} at {base} failed for {link.native_id} ({exc}); the answers so far are kept: "
                    f"fix SN_LAKE_{link.host.upper()}_URL or the service and run again (it resumes)."
                ) from exc
            finally:
                client.policy = policy
            probing[link.host] = False
            if sniff_bytes and answer["status"] == "ok":
                for f in files_of(answer):
                    if f["url"]:
                        answer.setdefault("heads", {})[f["url"]] = _sniff(clients["download"], f["url"])
            summary["not_found"] += answer["status"] == "not_found"
            record = {"native_id": link.native_id, "request_url": answer.pop("request_url"), "payload": answer}
            lake.write_raw(settings, SOURCE, crawl_id, step, [record])  # the lake is the state: asked links are skipped
            step += 1
            summary["records"] += 1
    finally:
        summary["requests"] = sum(c.stats.get("requests", 0) for c in clients.values())
        for c in clients.values():
            c.close()
    summary["seconds"] = round(time.monotonic() - started, 3)
    if summary["records"]:
        lake.finish_crawl(settings, SOURCE, crawl_id, {**summary, "steps": step - 1})
    return {"crawl_id": crawl_id if summary["records"] else None, **summary}
