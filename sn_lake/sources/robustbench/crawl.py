"""Fetch RobustBench's ``model_info/`` folder into ``lake/raw/robustbench/``: one raw record per file, resumably.

``SN_LAKE_ROBUSTBENCH_URL`` is a local folder or the http(s) URL of the folder's raw files. Which files exist is read
from the folder itself: a local walk; GitHub's git-trees API (one request to ``SN_LAKE_GITHUB_URL``) when the URL is
a ``raw.githubusercontent.com/<owner>/<repo>/<ref>/<path>`` one; else the folder's HTML index pages (what
``python -m http.server`` or an nginx autoindex serve). The files kept are ``<dataset>/<threat model>/<file>.json``
and ``.csv``.

Each file becomes one record whose payload keeps the body as received (``text``, or ``base64`` when it is not
UTF-8), so a malformed record reaches the catalog build and is quarantined there with its reason. A listed file the
server answers 404/410 is recorded with its status. After the last file a manifest record (native id
:data:`~sn_lake.sources.location.MANIFEST`) lists every file: only a crawl with its manifest is a complete snapshot.
The listing and how far the crawl got are saved after every step, so a killed crawl resumes where it stopped
(:class:`~sn_lake.sources.location.FolderCrawl`, shared with timm's result tables).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit

from sn_lake import lake
from sn_lake.config import Settings, redact_userinfo
from sn_lake.http_client import HttpError, PoliteClient
from sn_lake.sources.location import MANIFEST as MANIFEST  # the manifest's native id, read as crawl.MANIFEST
from sn_lake.sources.location import FolderCrawl, SourceUnreachable, client_for, file_payload, is_url
from sn_lake.sources.robustbench import SOURCE

STEP_FILES = 40  # files per lake step (and per saved state)
RAW_GITHUB_HOSTS = ("raw.githubusercontent.com",)
FILE_PATTERN = re.compile(r"^[^/]+/[^/]+/[^/]+\.(?:json|csv)$")  # <dataset>/<threat model>/<file>
_HREF = re.compile(r"""href\s*=\s*["']([^"'#?]+)["']""", re.IGNORECASE)


def list_local(root: Path) -> list[str]:
    """The record files under a local ``model_info/`` folder, as sorted relative paths."""
    if not root.is_dir():
        raise SourceUnreachable(
            f"Expected RobustBench's model_info/ folder at {root}, found no folder: set SN_LAKE_ROBUSTBENCH_URL "
            "to a local copy or to the upstream raw URL."
        )
    return sorted(
        p for p in (f.relative_to(root).as_posix() for f in root.rglob("*") if f.is_file()) if FILE_PATTERN.match(p)
    )


def github_tree_url(url: str, github_url: str, raw_hosts: tuple[str, ...] = RAW_GITHUB_HOSTS) -> tuple[str, str] | None:
    """``(git-trees API URL, folder path in the repository)`` for a raw GitHub folder URL, else None."""
    parts = urlsplit(url)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if parts.netloc.lower() not in raw_hosts or len(segments) < 3:
        return None
    owner, repo, ref, *folder = segments
    return f"{github_url.rstrip('/')}/repos/{owner}/{repo}/git/trees/{quote(ref, safe='')}?recursive=1", "/".join(
        folder
    )


def list_github(client: PoliteClient, tree_url: str, folder: str) -> list[str]:
    """The record files under ``folder`` of a repository, from one git-trees answer."""
    tree = client.get_json(tree_url)
    if not isinstance(tree, dict) or not isinstance(tree.get("tree"), list) or tree.get("truncated"):
        found = "a truncated one" if isinstance(tree, dict) else type(tree).__name__
        raise SourceUnreachable(
            f"Expected a complete git tree from {tree_url}, found {found}: point SN_LAKE_ROBUSTBENCH_URL at a local "
            "copy of model_info/."
        )
    prefix = f"{folder}/" if folder else ""
    paths = (e.get("path", "") for e in tree["tree"] if isinstance(e, dict) and e.get("type") == "blob")
    return sorted(p[len(prefix) :] for p in paths if p.startswith(prefix) and FILE_PATTERN.match(p[len(prefix) :]))


def list_index(client: PoliteClient, url: str) -> list[str]:
    """The record files under a folder URL, read from its HTML index pages (three levels deep)."""
    base = url.rstrip("/") + "/"
    found: list[str] = []
    folders = [""]
    for depth in range(3):
        below = []
        for folder in folders:
            page = client.get_text(base + folder)
            for href in dict.fromkeys(_HREF.findall(page)):
                target = urljoin(base + folder, href)
                if not target.startswith(base + folder) or target == base + folder:
                    continue  # a parent, sibling or absolute link: not inside this folder
                rel = unquote(target[len(base) :])
                if rel.endswith("/") and depth < 2:
                    below.append(rel)
                elif depth == 2 and FILE_PATTERN.match(rel):
                    found.append(rel)
        folders = below
    return sorted(set(found))


def list_files(settings: Settings, client: PoliteClient, raw_hosts: tuple[str, ...] = RAW_GITHUB_HOSTS) -> list[str]:
    """The record files at ``SN_LAKE_ROBUSTBENCH_URL`` (see the module docstring)."""
    location = settings.robustbench_url
    if not is_url(location):
        return list_local(Path(location).expanduser())
    tree = github_tree_url(location, settings.github_url, raw_hosts)
    try:
        if tree:
            with PoliteClient(token=settings.github_token, policy=client.policy, name=f"{SOURCE}-tree") as api:
                files = list_github(api, *tree)
        else:
            files = list_index(client, location)
    except HttpError as exc:
        raise SourceUnreachable(f"Could not list RobustBench's records at {redact_userinfo(location)}: {exc}") from exc
    if not files:
        raise SourceUnreachable(
            f"Expected <dataset>/<threat model>/*.json records under {redact_userinfo(location)}, found none: "
            "check that SN_LAKE_ROBUSTBENCH_URL points at model_info/."
        )
    return files


def fetch_file(settings: Settings, client: PoliteClient, path: str) -> dict:
    """One lake record for the file ``path`` (relative to the folder)."""
    location = settings.robustbench_url
    if not is_url(location):
        file = Path(location).expanduser().resolve() / path
        return {"native_id": path, "request_url": file.as_uri(), "payload": file_payload(path, 200, file.read_bytes())}
    url = location.rstrip("/") + "/" + quote(path)
    answer = client.fetch("GET", url, parse="bytes", ok_statuses=frozenset({404, 410}))
    return {"native_id": path, "request_url": url, "payload": file_payload(path, answer.status, answer.data)}


def crawl(
    settings: Settings,
    client: PoliteClient | None = None,
    raw_hosts: tuple[str, ...] = RAW_GITHUB_HOSTS,
    step_files: int = STEP_FILES,
) -> dict:
    """Fetch every record file into the lake (resuming an unfinished crawl of the same location); returns the summary.

    Raises :class:`SourceUnreachable` (nothing written) when the folder cannot be listed, and
    :class:`~sn_lake.http_client.HttpError` when a file kept failing (the next run resumes from that step).
    """
    run = FolderCrawl(settings, SOURCE, redact_userinfo(settings.robustbench_url))
    with client_for(client, SOURCE, timeout=30.0) as client:
        state = run.unfinished_state("files")
        if state is None:
            files = list_files(settings, client, raw_hosts)
            state = {"url": run.shown, "crawl_id": lake.new_crawl_id(), "files": files, "next": 0, "step": 0}
            state["missing"] = 0
            lake.save_state(settings, SOURCE, state)
        files, crawl_id = state["files"], state["crawl_id"]
        while state["next"] < len(files):
            batch = files[state["next"] : state["next"] + step_files]
            records = [fetch_file(settings, client, path) for path in batch]
            state["missing"] = state.get("missing", 0) + sum(r["payload"]["status"] != 200 for r in records)
            state["step"] += 1
            lake.write_raw(settings, SOURCE, crawl_id, state["step"], records)
            state["next"] += len(batch)
            lake.save_state(settings, SOURCE, state)
    counts = {
        "records": len(files) + 1,
        "steps": state["step"] + 1,
        "files": len(files),
        "answered_missing": state.get("missing", 0),
    }
    return run.finish(crawl_id, files, state["step"] + 1, counts)
