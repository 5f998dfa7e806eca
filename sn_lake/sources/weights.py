"""Weights behind the links: resolve ``catalog.models.weights_url`` on GitHub and Zenodo into files.

The study's weights live in GitHub repositories (release assets, or files in the repository) and
Zenodo records, not on the model hubs. For every distinct link a crawl asks the public APIs once
(GitHub: ``/repos/{o}/{r}/releases`` with its ``Link`` pagination and ``/repos/{o}/{r}/contents/{path}``;
Zenodo: ``/records/{id}``) and keeps the answers in ``lake/raw/weights/``. The build then matches
each model to the files of its link and writes ``catalog.weight_files``: one row per (model, file),
or one row with ``status`` saying honestly why there is no file (``no_weight_files``, ``not_found``,
``ambiguous``, ``unsupported_host``, ``not_fetched``).

``format`` comes from the file name (:func:`format_from_name`) and, where the first bytes are known
(``sniff_bytes``, or the evaluation after a download: :func:`format_from_bytes`), from the bytes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import struct
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

import duckdb
import polars as pl

from sn_lake import catalog, lake, warehouse
from sn_lake.config import Settings
from sn_lake.sources import http

SOURCE = "weights"
FORMATS = ("safetensors", "pytorch-state-dict", "pickle", "tensorflow", "other")
MAX_CANDIDATES = 20  # a link with more unmatched weight files than this is "ambiguous", not a list
SNIFF_BYTES = 64

log = logging.getLogger(__name__)

_ARCHIVES = (".tar.gz", ".tgz", ".zip", ".gz", ".tar", ".7z")
_BY_EXTENSION = {
    ".safetensors": "safetensors",
    ".pth": "pytorch-state-dict", ".pt": "pytorch-state-dict", ".pth.tar": "pytorch-state-dict",
    ".ckpt": "pytorch-state-dict", ".bin": "pytorch-state-dict", ".params": "other",
    ".pkl": "pickle", ".pickle": "pickle", ".npz": "other", ".npy": "other", ".onnx": "other",
    ".h5": "tensorflow", ".hdf5": "tensorflow", ".keras": "tensorflow", ".pb": "tensorflow", ".tflite": "tensorflow",
    ".index": "tensorflow", ".msgpack": "other",
}  # fmt: skip
_TF_SHARD = re.compile(r"\.data-\d{5}-of-\d{5}$")
# torch.save's legacy (non-zip) files start with a pickled magic number, 0x1950a86a20f9469cfc6c
_TORCH_LEGACY_MAGIC = bytes.fromhex("8a0a6cfc9c46f9206aa85019")


class WeightsError(RuntimeError):
    """A user-configured GitHub or Zenodo endpoint failed."""


@dataclasses.dataclass(frozen=True)
class Link:
    """A weights link we know how to resolve: ``host`` is ``github`` or ``zenodo``."""

    host: str
    key: str  # github: owner/repo ; zenodo: record id
    ref: str | None = None  # github: branch or tag of a /tree/ or /blob/ link
    path: str = ""  # github: folder or file inside the repository

    @property
    def native_id(self) -> str:
        return f"{self.host}:{self.key}" + (f"@{self.ref}:{self.path}" if self.ref or self.path else "")


def parse_link(url: str | None) -> Link | None:
    """The GitHub repository (and folder) or Zenodo record a weights URL points at; None for other hosts.

    ``https://github.com/osmr/imgclsmob/tree/master/pytorch`` -> github ``osmr/imgclsmob`` at
    ``master:pytorch``; ``https://zenodo.org/records/10519652`` -> zenodo ``10519652``.
    """
    if not url:
        return None
    parts = urlsplit(url.strip())
    host = parts.netloc.lower().removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if host == "github.com" and len(segments) >= 2:
        owner, repo = segments[0], segments[1].removesuffix(".git")
        if len(segments) >= 4 and segments[2] in ("tree", "blob"):
            return Link("github", f"{owner}/{repo}", segments[3], "/".join(segments[4:]))
        return Link("github", f"{owner}/{repo}")
    if host in ("zenodo.org", "sandbox.zenodo.org") and len(segments) >= 2 and segments[0] in ("record", "records"):
        if segments[1].isdigit():
            return Link("zenodo", segments[1])
    return None


def _split_archive(name: str) -> tuple[str, str | None]:
    lower = name.lower()
    for ext in _ARCHIVES:
        if lower.endswith(ext):
            return name[: -len(ext)], ext.lstrip(".")
    return name, None


def format_from_name(name: str) -> str:
    """The weight format a file name says (``model.safetensors`` -> ``safetensors``, ``x.pth.zip`` -> ``pytorch-state-dict``)."""
    inner, _ = _split_archive(name)
    lower = inner.lower()
    if _TF_SHARD.search(lower) or lower.endswith("saved_model") or lower.startswith("saved_model"):
        return "tensorflow"
    for ext in sorted(_BY_EXTENSION, key=len, reverse=True):
        if lower.endswith(ext):
            return _BY_EXTENSION[ext]
    return "other"


def is_weight_file(name: str) -> bool:
    """Whether a file name looks like model weights (by extension, inside an archive or not)."""
    inner, archive = _split_archive(name)
    return format_from_name(name) != "other" or inner.lower().endswith((".npz", ".onnx", ".params", ".msgpack")) or (
        archive is not None and bool(re.search(r"weight|checkpoint|model|ckpt", inner.lower()))
    )


def format_from_bytes(head: bytes, name: str = "") -> str | None:
    """The format the first bytes of a file show, None when they show none we know.

    safetensors: an 8-byte little-endian header length then ``{``; a zip (``PK``): torch.save's
    archive (or Keras 3's ``.keras``); a pickle (``\\x80``): torch.save's legacy format when it
    starts with torch's magic number, else a plain pickle; HDF5's signature: Keras/TensorFlow.
    """
    if len(head) >= 9 and head[8:9] == b"{":
        (length,) = struct.unpack("<Q", head[:8])
        if 1 < length < 100_000_000:
            return "safetensors"
    if head.startswith(b"PK\x03\x04"):
        return "tensorflow" if name.lower().endswith(".keras") else "pytorch-state-dict"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "tensorflow"
    if head[:1] == b"\x80" and len(head) > 2:
        return "pytorch-state-dict" if _TORCH_LEGACY_MAGIC in head[:32] else "pickle"
    return None


# --- fetching -------------------------------------------------------------------------------------


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
    contents = client.fetch("GET", contents_url, params={"ref": link.ref} if link.ref else None, ok_statuses=frozenset({404}))
    files = contents.data if isinstance(contents.data, list) else ([contents.data] if contents.data else [])
    return {"status": "ok", "request_url": f"{repo_url}/releases", "releases": releases, "contents": files, "contents_status": contents.status}


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


def files_of(answer: dict) -> list[dict]:
    """The weight files of one raw answer: ``filename``, ``url``, ``size_bytes``, ``checksum``, ``origin``."""
    out = []
    for release in answer.get("releases") or []:
        for asset in release.get("assets") or []:
            out.append({"filename": asset.get("name"), "url": asset.get("browser_download_url"), "size_bytes": asset.get("size"),
                        "checksum": asset.get("digest"), "origin": f"github-release:{release.get('tag_name')}"})  # fmt: skip
    for item in answer.get("contents") or []:
        if item.get("type") == "file":
            out.append({"filename": item.get("name"), "url": item.get("download_url"), "size_bytes": item.get("size"),
                        "checksum": f"git-sha1:{item['sha']}" if item.get("sha") else None, "origin": "github-contents"})  # fmt: skip
    files = (answer.get("record") or {}).get("files") or []
    if isinstance(files, dict):  # InvenioRDM: {"enabled": ..., "entries": {key: file}}
        entries = files.get("entries") or {}
        files = list(entries.values()) if isinstance(entries, dict) else entries
    for item in files:
        links = item.get("links") or {}
        out.append({"filename": item.get("key") or item.get("filename"), "url": links.get("self") or links.get("content"),
                    "size_bytes": item.get("size") or item.get("filesize"), "checksum": item.get("checksum"), "origin": "zenodo"})  # fmt: skip
    return [f for f in out if f["filename"] and is_weight_file(f["filename"])]


LINKS_SQL = "SELECT DISTINCT weights_url FROM catalog.models WHERE weights_url IS NOT NULL ORDER BY 1"


def catalog_links(settings: Settings) -> list[str]:
    """The distinct weights URLs of catalog.models that point at GitHub or Zenodo (read-only; waits for a writer)."""
    if not warehouse.exists(settings):
        return []
    return [url for (url,) in warehouse.read_when_free(settings, LINKS_SQL) if parse_link(url)]


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
    summary: dict = {"links": len(links), "asked": len(todo), "records": 0, "not_found": 0, "unreachable": [], "errors": {}}
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
                    reason = "cannot be reached (offline?)" if probing[link.host] and exc.status is None else "failed after the retries"
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


# --- matching and the catalog table -------------------------------------------------------------------

WEIGHT_FILE_SCHEMA = {
    "model_id": pl.String, "url": pl.String, "filename": pl.String, "size_bytes": pl.Int64, "checksum": pl.String,
    "format": pl.String, "format_from": pl.String, "compression": pl.String, "origin": pl.String,
    "matched_by": pl.String, "status": pl.String, "detail": pl.String, "weights_url": pl.String,
    "fetched_at": pl.Datetime("us", "UTC"),
}  # fmt: skip


def _key(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "", (text or "").lower())


def _stem(filename: str) -> str:
    inner, _ = _split_archive(filename)
    return re.split(r"[-.]", inner, maxsplit=1)[0] if "-" in inner else inner.rsplit(".", 1)[0]


def match_files(name: str | None, dataset: str | None, files: list[dict], link: Link) -> tuple[list[dict], str]:
    """The files of a link that hold one model's weights, and how they were matched.

    In order: the file named like the model (``resnet18_acs_1.pth``; ``resnet18-0477-cd27a4a1.pth.zip``
    for ``resnet18``), a ``/blob/`` link's own file, the files naming the model's dataset, the only
    weight file of the link, every weight file of the link (at most :data:`MAX_CANDIDATES`).
    """
    by_name = [f for f in files if _key(f["filename"]) == _key(name) or _key(_stem(f["filename"])) == _key(name)]
    if name and by_name:
        return by_name, "name"
    if link.path:
        exact = [f for f in files if link.path.endswith(f["filename"])]
        if exact and len(exact) == 1 and "." in link.path.rsplit("/", 1)[-1]:
            return exact, "link"
    by_dataset = [f for f in files if dataset and _key(dataset) in _key(f["filename"])]
    if by_dataset:
        return by_dataset, "dataset"
    if len(files) == 1:
        return files, "only_file"
    return files, "all_files_of_link"


def build_rows(models: pl.DataFrame, raw: pl.DataFrame) -> pl.DataFrame:
    """``catalog.weight_files`` rows for ``models`` (``model_id``, ``name``, ``dataset``, ``weights_url``) from the raw answers."""
    answers: dict[str, tuple[dict, object]] = {}
    for row in raw.sort("fetched_at").iter_rows(named=True):
        answers[row["native_id"]] = (json.loads(row["payload"]), row["fetched_at"])
    rows = []
    for model in models.iter_rows(named=True):
        base = {k: None for k in WEIGHT_FILE_SCHEMA} | {"model_id": model["model_id"], "weights_url": model["weights_url"]}
        link = parse_link(model["weights_url"])
        if link is None:
            rows.append(base | {"status": "unsupported_host", "detail": "only GitHub and Zenodo links are resolved"})
            continue
        if link.native_id not in answers:
            rows.append(base | {"status": "not_fetched", "detail": f"{link.host} has not been asked yet (or was unreachable)"})
            continue
        answer, fetched_at = answers[link.native_id]
        base["fetched_at"] = fetched_at
        if answer["status"] != "ok":
            rows.append(base | {"status": answer["status"], "detail": f"{link.host} does not know {link.key}"})
            continue
        files = files_of(answer)
        matched, how = match_files(model["name"], model["dataset"], files, link)
        if not matched:
            rows.append(base | {"status": "no_weight_files", "detail": f"{link.native_id} lists no weight files"})
            continue
        if how == "all_files_of_link" and len(matched) > MAX_CANDIDATES:
            rows.append(base | {"status": "ambiguous", "detail": f"{len(matched)} weight files, none named like the model"})
            continue
        heads = answer.get("heads") or {}
        for f in matched:
            head = bytes.fromhex(heads[f["url"]]) if heads.get(f["url"]) else None
            sniffed = format_from_bytes(head, f["filename"]) if head and _split_archive(f["filename"])[1] is None else None
            rows.append(base | {
                "url": f["url"], "filename": f["filename"], "size_bytes": f["size_bytes"], "checksum": f["checksum"],
                "format": sniffed or format_from_name(f["filename"]), "format_from": "bytes" if sniffed else "name",
                "compression": _split_archive(f["filename"])[1], "origin": f["origin"], "matched_by": how, "status": "found",
            })  # fmt: skip
    return pl.DataFrame(rows, schema=WEIGHT_FILE_SCHEMA)


def build_weight_files(settings: Settings, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rebuild ``catalog.weight_files`` for every model whose weights URL points at GitHub or Zenodo."""
    models = pl.from_arrow(con.execute(
        "SELECT model_id, name, dataset, weights_url FROM catalog.models "
        "WHERE regexp_matches(weights_url, '^https?://(www\\.)?(github\\.com|(sandbox\\.)?zenodo\\.org)/') ORDER BY model_id"
    ).fetch_arrow_table())  # fmt: skip
    rows = build_rows(models, lake.read_raw(settings, SOURCE))
    warehouse.replace_rows(con, "catalog.weight_files", rows, "true")
    catalog.record_crawls(settings, con, SOURCE)
    counts = rows.group_by("status").len().sort("status")
    return {"rows": rows.height, **dict(zip(counts["status"], counts["len"]))}
