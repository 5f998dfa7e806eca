"""A loopback fake of the Hugging Face Hub that speaks the real HTTP protocol (tests and benchmarks).

Python API::

    with FakeHub(models, latency_s=0.0, max_page_size=1000) as hub:  # HTTP/1.1 on 127.0.0.1:<free port>
        os.environ["HF_ENDPOINT"] = hub.url
        hub.add_model({"id": "org/name", "pipeline_tag": "image-classification", ...})
        hub.update_model("org/name", downloads=7)      # a new sha and lastModified, as a push would
        hub.add_repo("org/net", folder, sha=None)      # serve a real folder (config.json, *.safetensors, README.md)
        hub.inject("status", path_contains="/api/models", times=2, status=503)
        held = hub.stall("/api/models", after=3)       # the 4th listing request blocks until held.release.set()
        hub.request_log                                # LoggedRequest(method, path, query, status, ...)

A model is a dict in the Hub API's own field names (``id``, ``sha``, ``lastModified``,
``createdAt``, ``tags``, ``pipeline_tag``, ``library_name``, ``downloads``, ``likes``,
``cardData``, ``model-index``, ``safetensors``, ``config``) plus ``card`` (the README.md text) and
optionally ``files`` (``{path: bytes}``). Missing ``sha``/dates are filled in.

Endpoints (as huggingface.co answers them):

* ``GET /api/models`` -- filters ``pipeline_tag``, ``library``, ``author``, ``search``, ``filter``;
  ``limit`` (at most 1,000); ``expand[]`` (only those fields, an unknown one is a 400) or ``full``;
  cursor pagination with ``Link: <...>; rel="next"``.
* ``GET /api/models/{repo_id}`` and ``/api/models/{repo_id}/revision/{rev}`` -- with ``siblings``.
* ``GET /api/models/{repo_id}/tree/{rev}`` -- the file list ``snapshot_download`` reads.
* ``GET|HEAD /{repo_id}/resolve/{rev}/{path}`` -- ``ETag``, ``X-Repo-Commit``, ``Content-Length``,
  ``Range`` support; what ``hf_hub_download``/``snapshot_download`` need.

Dataset repos (``hub.add_dataset(repo_id, files, gated=False, parquet_branch_files=None, granted_tokens=())``,
``hub.grant(repo_id, token)``), as huggingface.co serves them (ids matched without regard to case):

* ``GET /api/datasets/{repo_id}`` and ``/api/datasets/{repo_id}/revision/{rev}`` -- ``sha``, ``gated``,
  ``cardData`` (the README's YAML front matter), ``siblings``; public even when gated, as on the Hub.
* ``GET /api/datasets/{repo_id}/tree/{rev}[/{path}]`` -- ``recursive``, cursor pagination (``tree_page_size``,
  1,000 as on the Hub) with ``Link: <...>; rel="next"``; ``.parquet`` files are LFS entries.
* ``GET /api/datasets/{repo_id}/auth-check`` and ``GET|HEAD /datasets/{repo_id}/resolve/{rev}/{path}`` (the model
  file endpoint's headers, ``Range``); a gated repo answers 401 without a token and 403 for a token not granted,
  with ``X-Error-Code: GatedRepo`` and the Hub's ``X-Error-Message``.
* the ``refs/convert/parquet`` branch (``parquet_branch_files``), URL-encoded ``refs%2Fconvert%2Fparquet``.

Other knobs: ``latency_s`` (added to every request), ``max_page_size`` (the server's cap on
``limit``), ``api_quota``/``resolvers_quota`` (``(requests, window seconds)``), ``clock`` (a fake
clock for pacing tests), ``required_token`` (401 without ``Authorization: Bearer <token>``).

huggingface_hub reads ``HF_ENDPOINT`` when it is imported, so pass ``endpoint=hub.url`` to
``hf_hub_download``/``snapshot_download``/``HfApi`` (or set the variable before the first import).

Every answer carries ``RateLimit``/``RateLimit-Policy`` for its bucket (``api`` or ``resolvers``,
fixed windows on ``clock``); over quota it answers 429 with ``Retry-After``.

Faults (``inject``): ``status`` (any code; 429 with ``retry_after``), ``slow`` (sleep ``seconds``
before answering), ``truncate`` (full ``Content-Length``, half the body, then close), ``reset``
(half the body, then a TCP reset), ``bad_json`` (a malformed body with a matching length).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

EXPANDABLE = {
    "author",
    "baseModels",
    "cardData",
    "childrenModelCount",
    "config",
    "createdAt",
    "disabled",
    "downloads",
    "downloadsAllTime",
    "evalResults",
    "gated",
    "gguf",
    "inference",
    "inferenceProviderMapping",
    "lastModified",
    "library_name",
    "likes",
    "mask_token",
    "model-index",
    "pipeline_tag",
    "private",
    "resourceGroup",
    "safetensors",
    "sha",
    "siblings",
    "spaces",
    "tags",
    "transformersInfo",
    "trendingScore",
    "usedStorage",
    "widgetData",
}
# what /api/models returns per model without expand[] or full
DEFAULT_LIST_FIELDS = (
    "id",
    "likes",
    "trendingScore",
    "private",
    "downloads",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
)
HUB_FLOOR_DATE = "2022-03-02T23:29:04.000Z"
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".onnx", ".msgpack")


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def _git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int | str  # an HTTP status, or "fault:<kind>"
    authorization: str | None
    user_agent: str | None
    range: str | None = None

    @property
    def url_path_and_query(self) -> str:
        return self.path + ("?" + urlencode(self.query, doseq=True) if self.query else "")


@dataclass
class Fault:
    kind: str
    path_contains: str = ""
    times: int = 1
    status: int = 500
    retry_after: int = 1
    seconds: float = 0.0
    method: str | None = None


class Stall:
    """Requests held by :meth:`FakeHub.stall`."""

    def __init__(self, path_contains: str, after: int):
        self.path_contains = path_contains
        self.after = after
        self.seen = 0
        self.reached = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def matches(self, target: str) -> bool:
        if self.path_contains not in target or self.release.is_set():
            return False
        with self._lock:
            self.seen += 1
            return self.seen > self.after


@dataclass
class _Bucket:
    quota: int
    window_s: int
    window_index: int = -1
    used: int = 0


@dataclass
class _Repo:
    info: dict
    revisions: dict[str, dict[str, bytes]] = field(default_factory=dict)  # sha -> files


class FakeHub:
    """The fake Hub; see the module docstring. Thread-safe; use as a context manager."""

    def __init__(
        self,
        models: list[dict] | None = None,
        *,
        latency_s: float = 0.0,
        api_quota: tuple[int, int] = (100_000, 300),
        resolvers_quota: tuple[int, int] = (1_000_000, 300),
        clock: Callable[[], float] = time.monotonic,
        page_size: int = 1000,
        max_page_size: int = 1000,
        required_token: str | None = None,
    ):
        self.latency_s = latency_s
        self.clock = clock
        self.page_size = page_size
        self.max_page_size = max_page_size
        self.required_token = required_token
        self.request_log: list[LoggedRequest] = []
        self._lock = threading.RLock()
        self._repos: dict[str, _Repo] = {}
        self._datasets: dict[str, _Repo] = {}  # lower-cased dataset id -> repo (the Hub ignores case in ids)
        self._dataset_refs: dict[str, dict[str, str]] = {}  # lower-cased dataset id -> {ref name: sha}
        self._dataset_grants: dict[str, set[str]] = {}  # lower-cased gated dataset id -> tokens with access
        self.tree_page_size = 1000
        self._order: list[str] = []  # insertion order = cursor order
        self._faults: list[Fault] = []
        self._stalls: list[Stall] = []
        self._start = clock()
        self._buckets = {"api": _Bucket(*api_quota), "resolvers": _Bucket(*resolvers_quota)}
        self._counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for model in models or []:
            self.add_model(model)

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> FakeHub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        hub = self

        class Handler(_HubHandler):
            pass

        Handler.hub = hub
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        for stall in self._stalls:
            stall.release.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server, "start the FakeHub first (use it as a context manager)"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ---------------------------------------------------------------- content
    def _new_sha(self, repo_id: str) -> str:
        self._counter += 1
        return _sha1(f"{repo_id}#{self._counter}".encode())

    def add_model(self, model: dict) -> dict:
        """Add (or replace) a model given in the Hub API's field names; returns the stored info."""
        info = {k: v for k, v in copy.deepcopy(model).items() if v is not None}
        repo_id = info["id"]
        files = {
            k: (v if isinstance(v, bytes) else str(v).encode()) for k, v in (info.pop("files", None) or {}).items()
        }
        card = info.pop("card", None)
        if card is not None:
            files["README.md"] = card.encode()
        with self._lock:
            self._counter += 1
            info.setdefault("_id", f"{self._counter:024x}")
            info.setdefault("sha", self._new_sha(repo_id))
            info.setdefault("lastModified", _iso(datetime(2024, 1, 1, tzinfo=UTC)))
            info.setdefault("createdAt", info["lastModified"])
            info.setdefault("author", repo_id.split("/")[0] if "/" in repo_id else None)
            info.setdefault("private", False)
            info.setdefault("gated", False)
            info.setdefault("disabled", False)
            info.setdefault("downloads", 0)
            info.setdefault("likes", 0)
            info.setdefault("tags", [])
            info.setdefault("trendingScore", 0)
            if repo_id not in self._repos:
                self._order.append(repo_id)
            repo = self._repos.get(repo_id) or _Repo(info=info)
            repo.info = info
            repo.revisions[info["sha"]] = files
            self._repos[repo_id] = repo
        return info

    def add_repo(self, repo_id: str, folder: str | Path, sha: str | None = None, **metadata) -> dict:
        """Serve every file under ``folder`` as model repo ``repo_id`` at commit ``sha`` (40 hex; made up when None)."""
        root = Path(folder)
        files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
        model = {"id": repo_id, "files": files, **metadata}
        if sha:
            model["sha"] = sha
        if "safetensors" not in model and any(name.endswith(".safetensors") for name in files):
            model["safetensors"] = {"parameters": {}, "total": 0}
        return self.add_model(model)

    def update_model(self, repo_id: str, *, card: str | None = None, **changes) -> dict:
        """A push: new sha and lastModified (a day later), the given field changes; old revisions stay served."""
        with self._lock:
            repo = self._repos[repo_id]
            files = dict(repo.revisions[repo.info["sha"]])
            if card is not None:
                files["README.md"] = card.encode()
            info = {**repo.info, **changes}
            info["sha"] = changes.get("sha") or self._new_sha(repo_id)
            last = datetime.fromisoformat(repo.info["lastModified"].replace("Z", "+00:00"))
            info["lastModified"] = _iso(last + timedelta(days=1))
            repo.info = info
            repo.revisions[info["sha"]] = files
            return info

    def model(self, repo_id: str) -> dict:
        with self._lock:
            return copy.deepcopy(self._repos[repo_id].info)

    def models(self) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(self._repos[r].info) for r in self._order]

    # ---------------------------------------------------------------- faults
    def inject(self, kind: str, *, path_contains: str = "", times: int = 1, **options) -> Fault:
        """Queue a fault for the next ``times`` requests whose path+query contains ``path_contains``."""
        if kind not in {"status", "slow", "truncate", "reset", "bad_json"}:
            raise ValueError(f"fault kind must be status, slow, truncate, reset or bad_json, found {kind!r}.")
        fault = Fault(kind=kind, path_contains=path_contains, times=times, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def stall(self, path_contains: str, *, after: int = 0) -> Stall:
        """Block requests matching ``path_contains``, after the first ``after`` of them, until ``.release`` is set.

        ``.reached`` is set as soon as one request is held (so a test can kill its client then).
        """
        stall = Stall(path_contains, after)
        with self._lock:
            self._stalls.append(stall)
        return stall

    def _take_fault(self, method: str, target: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.path_contains in target and (fault.method in (None, method)):
                    fault.times -= 1
                    return fault
        return None

    def _charge(self, bucket_name: str) -> tuple[bool, dict[str, str]]:
        with self._lock:
            bucket = self._buckets[bucket_name]
            elapsed = self.clock() - self._start
            index = int(elapsed // bucket.window_s)
            if index != bucket.window_index:
                bucket.window_index, bucket.used = index, 0
            bucket.used += 1
            reset = max(1, int(bucket.window_s * (index + 1) - elapsed + 0.999))
            allowed = bucket.used <= bucket.quota
            headers = {
                "RateLimit": f'"{bucket_name}";r={max(0, bucket.quota - bucket.used)};t={reset}',
                "RateLimit-Policy": f'"fixed window";"{bucket_name}";q={bucket.quota};w={bucket.window_s}',
            }
            if not allowed:
                headers["Retry-After"] = str(reset)
            return allowed, headers

    def _log(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.request_log.append(entry)

    # ---------------------------------------------------------------- API answers
    @staticmethod
    def _project(info: dict, fields: set[str] | None, *, siblings: list[dict] | None = None) -> dict:
        out = {"_id": info["_id"], "id": info["id"]}
        if fields is None:  # full
            out.update({k: v for k, v in info.items() if not k.startswith("_")})
            out["modelId"] = info["id"]
            if siblings is not None:
                out["siblings"] = siblings
            return out
        for name in fields:
            if name == "siblings":
                out["siblings"] = siblings or []
            elif name in info:
                out[name] = info[name]
        return out

    def _siblings(self, repo: _Repo, sha: str) -> list[dict]:
        return [{"rfilename": name} for name in sorted(repo.revisions.get(sha, {}))]

    def list_models(self, query: dict[str, list[str]]) -> tuple[int, object, dict[str, str]]:
        arg = lambda name: (query.get(name) or [None])[0]  # noqa: E731
        expand = query.get("expand[]") or query.get("expand") or []
        unknown = sorted(set(expand) - EXPANDABLE)
        if unknown:
            return 400, {"error": f'"expand" contained invalid values: {unknown}'}, {}
        full = (arg("full") or "").lower() in {"true", "1"}
        try:
            limit = min(int(arg("limit") or self.page_size), self.max_page_size, 1000)
        except ValueError:
            return 400, {"error": '"limit" must be an integer'}, {}
        after = arg("cursor")
        after_id = json.loads(base64.urlsafe_b64decode(after.encode()).decode())["_id"] if after else None
        filters = query.get("filter") or []
        with self._lock:
            rows = []
            more = False
            for repo_id in self._order:
                info = self._repos[repo_id].info
                if after_id is not None and info["_id"] <= after_id:
                    continue
                if arg("pipeline_tag") and info.get("pipeline_tag") != arg("pipeline_tag"):
                    continue
                if arg("library") and arg("library") not in (info.get("library_name"), *info.get("tags", [])):
                    continue
                if arg("author") and not repo_id.startswith(arg("author") + "/"):
                    continue
                if arg("search") and arg("search").lower() not in repo_id.lower():
                    continue
                if any(
                    f not in info.get("tags", []) and f != info.get("pipeline_tag") and f != info.get("library_name")
                    for f in filters
                ):
                    continue
                if len(rows) == limit:
                    more = True
                    break
                repo = self._repos[repo_id]
                fields = None if full else (set(expand) if expand else set(DEFAULT_LIST_FIELDS))
                rows.append(
                    self._project(
                        info,
                        fields,
                        siblings=self._siblings(repo, info["sha"]) if full or "siblings" in expand else None,
                    )
                )
        headers = {}
        if more and rows:
            cursor = base64.urlsafe_b64encode(json.dumps({"_id": rows[-1]["_id"]}).encode()).decode()
            params = [(k, v) for k, vs in query.items() if k != "cursor" for v in vs] + [("cursor", cursor)]
            headers["Link"] = f'<{self.url}/api/models?{urlencode(params)}>; rel="next"'
        return 200, rows, headers

    def model_info(
        self, repo_id: str, revision: str | None, query: dict[str, list[str]]
    ) -> tuple[int, object, dict[str, str]]:
        with self._lock:
            repo = self._repos.get(repo_id)
            if repo is None:
                return 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
            sha = self._resolve(repo, revision)
            if sha is None:
                return 404, {"error": "Invalid rev id: " + str(revision)}, {"X-Error-Code": "RevisionNotFound"}
            info = dict(repo.info) if sha == repo.info["sha"] else {**repo.info, "sha": sha}
            expand = query.get("expand[]") or query.get("expand") or []
            fields = set(expand) if expand else None
            return 200, self._project(info, fields, siblings=self._siblings(repo, sha)), {}

    def tree(self, repo_id: str, revision: str) -> tuple[int, object, dict[str, str]]:
        with self._lock:
            repo = self._repos.get(repo_id)
            sha = self._resolve(repo, revision) if repo else None
            if sha is None:
                return (
                    404,
                    {"error": "Repository or revision not found"},
                    {"X-Error-Code": "RevisionNotFound" if repo else "RepoNotFound"},
                )
            entries = []
            for name, data in sorted(repo.revisions[sha].items()):
                entry = {"type": "file", "oid": _git_blob_oid(data), "size": len(data), "path": name}
                if name.endswith(LFS_SUFFIXES):
                    entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                entries.append(entry)
            return 200, entries, {}

    def file(self, repo_id: str, revision: str, path: str) -> tuple[int, bytes | dict, dict[str, str]]:
        with self._lock:
            repo = self._repos.get(repo_id)
            if repo is None:
                return 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
            sha = self._resolve(repo, revision)
            if sha is None:
                return 404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"}
            data = repo.revisions[sha].get(path)
            if data is None:
                return 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha}
        etag = hashlib.sha256(data).hexdigest() if path.endswith(LFS_SUFFIXES) else _git_blob_oid(data)
        content_type = "text/markdown; charset=utf-8" if path.endswith(".md") else "application/octet-stream"
        return (
            200,
            data,
            {"ETag": f'"{etag}"', "X-Repo-Commit": sha, "Content-Type": content_type, "Accept-Ranges": "bytes"},
        )

    @staticmethod
    def _resolve(repo: _Repo, revision: str | None) -> str | None:
        if revision in (None, "main"):
            return repo.info["sha"]
        return revision if revision in repo.revisions else None

    # ---------------------------------------------------------------- datasets
    def add_dataset(
        self,
        repo_id: str,
        files: dict[str, bytes],
        *,
        gated: bool | str = False,
        parquet_branch_files: dict[str, bytes] | None = None,
        granted_tokens: tuple[str, ...] = (),
        sha: str | None = None,
        card_data: dict | None = None,
        **info,
    ) -> dict:
        """Serve dataset repo ``repo_id`` with ``files`` on main (and ``parquet_branch_files`` on refs/convert/parquet).

        ``gated``: False, True (= "manual") or "auto"; ``granted_tokens`` may read a gated repo. ``card_data``
        defaults to the YAML front matter of ``files["README.md"]``.
        """
        files = {k: (v if isinstance(v, bytes) else str(v).encode()) for k, v in files.items()}
        if card_data is None and "README.md" in files:
            card_data = _front_matter(files["README.md"].decode())
        key = repo_id.lower()
        with self._lock:
            self._counter += 1
            data = {
                "_id": f"{self._counter:024x}",
                "id": repo_id,
                "author": repo_id.split("/")[0],
                "sha": sha or self._new_sha(repo_id),
                "lastModified": _iso(datetime(2024, 1, 1, tzinfo=UTC)),
                "private": False,
                "gated": "manual" if gated is True else gated,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": ["task_categories:image-classification", "format:parquet"],
                **info,
            }
            data["createdAt"] = data["lastModified"]
            if card_data is not None:
                data["cardData"] = card_data
            repo = _Repo(info=data, revisions={data["sha"]: files})
            refs: dict[str, str] = {}
            if parquet_branch_files is not None:
                branch_sha = self._new_sha(repo_id + "@" + "refs/convert/parquet")
                repo.revisions[branch_sha] = dict(parquet_branch_files)
                refs["refs/convert/parquet"] = branch_sha
            self._datasets[key] = repo
            self._dataset_refs[key] = refs
            self._dataset_grants[key] = set(granted_tokens)
            return copy.deepcopy(data)

    def grant(self, repo_id: str, token: str) -> None:
        """Give ``token`` access to the gated dataset ``repo_id`` (as accepting its terms would)."""
        with self._lock:
            self._dataset_grants.setdefault(repo_id.lower(), set()).add(token)

    def dataset(self, repo_id: str) -> dict:
        with self._lock:
            return copy.deepcopy(self._datasets[repo_id.lower()].info)

    def _dataset_sha(self, key: str, revision: str | None) -> str | None:
        repo = self._datasets[key]
        if revision in (None, "main"):
            return repo.info["sha"]
        if revision in self._dataset_refs.get(key, {}):
            return self._dataset_refs[key][revision]
        return revision if revision in repo.revisions else None

    def _dataset_access(self, key: str, authorization: str | None) -> tuple[int, object, dict[str, str]] | None:
        """None when the request may read the files of dataset ``key``, else the Hub's 401/403 GatedRepo answer."""
        repo = self._datasets[key]
        if not repo.info.get("gated"):
            return None
        token = authorization[len("Bearer ") :] if authorization and authorization.startswith("Bearer ") else None
        if token and token in self._dataset_grants.get(key, set()):
            return None
        repo_id = repo.info["id"]
        if token is None:
            status, message = (
                401,
                (
                    f"Access to dataset {repo_id} is restricted. You must have access to it and be "
                    "authenticated to access it. Please log in."
                ),
            )
        else:
            status, message = (
                403,
                (
                    f"Access to dataset {repo_id} is restricted and you are not in the authorized "
                    f"list. Visit https://huggingface.co/datasets/{repo_id} to ask for "
                    "access."
                ),
            )
        return status, {"error": message}, {"X-Error-Code": "GatedRepo", "X-Error-Message": message}

    def dataset_route(
        self, raw_path: str, query: dict[str, list[str]], authorization: str | None
    ) -> tuple[int, object, dict[str, str]]:
        """Answer a ``/api/datasets/...`` or ``/datasets/.../resolve/...`` request (``raw_path`` still URL-encoded)."""
        api = raw_path.startswith("/api/datasets/")
        parts = raw_path[len("/api/datasets/") if api else len("/datasets/") :].split("/")
        if len(parts) < 2:
            return 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
        repo_id, rest = unquote(parts[0]) + "/" + unquote(parts[1]), parts[2:]
        key = repo_id.lower()
        with self._lock:
            repo = self._datasets.get(key)
            if repo is None:  # what the Hub answers for a missing (or private) repo without credentials
                return (
                    401,
                    {"error": "Repository not found"},
                    {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"},
                )
            if api and not rest:
                return 200, self._dataset_info(key, repo.info["sha"]), {}
            if api and rest[0] == "revision" and len(rest) >= 2:
                sha = self._dataset_sha(key, unquote("/".join(rest[1:])))
                if sha is None:
                    return 404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"}
                return 200, self._dataset_info(key, sha), {}
            if api and rest[0] == "auth-check":
                return self._dataset_access(key, authorization) or (200, {"ok": True}, {})
            if api and rest[0] == "tree" and len(rest) >= 2:
                sha = self._dataset_sha(key, unquote(rest[1]))
                if sha is None:
                    return 404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"}
                folder = unquote("/".join(rest[2:])).strip("/")
                return self._dataset_tree(key, sha, folder, query, raw_path)
            if not api and rest and rest[0] == "resolve" and len(rest) >= 3:
                sha = self._dataset_sha(key, unquote(rest[1]))
                if sha is None:
                    return 404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"}
                denied = self._dataset_access(key, authorization)
                if denied:
                    return denied
                path = unquote("/".join(rest[2:]))
                data = repo.revisions[sha].get(path)
                if data is None:
                    return 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha}
                etag = hashlib.sha256(data).hexdigest() if path.endswith(DATASET_LFS_SUFFIXES) else _git_blob_oid(data)
                kind = "text/markdown; charset=utf-8" if path.endswith(".md") else "application/octet-stream"
                return (
                    200,
                    data,
                    {"ETag": f'"{etag}"', "X-Repo-Commit": sha, "Content-Type": kind, "Accept-Ranges": "bytes"},
                )
        return 404, {"error": f"no route for {raw_path}"}, {}

    def _dataset_info(self, key: str, sha: str) -> dict:
        repo = self._datasets[key]
        info = {k: v for k, v in repo.info.items()}
        info["sha"] = sha
        info["siblings"] = [{"rfilename": name} for name in sorted(repo.revisions[sha])]
        return copy.deepcopy(info)

    def _dataset_tree(
        self, key: str, sha: str, folder: str, query: dict[str, list[str]], raw_path: str
    ) -> tuple[int, object, dict[str, str]]:
        files = self._datasets[key].revisions[sha]
        recursive = (query.get("recursive") or ["false"])[0].lower() in ("true", "1")
        prefix = folder + "/" if folder else ""
        under = sorted(name for name in files if name.startswith(prefix))
        if folder and not under:
            return 404, {"error": f"{folder} does not exist"}, {"X-Error-Code": "EntryNotFound"}
        entries: dict[str, dict] = {}
        for name in under:
            rel = name[len(prefix) :].split("/")
            for depth in range(1, len(rel)):  # the folders on the way
                sub = prefix + "/".join(rel[:depth])
                if (recursive or depth == 1) and sub not in entries:
                    entries[sub] = {"type": "directory", "oid": _sha1(sub.encode()), "size": 0, "path": sub}
            if recursive or len(rel) == 1:
                data = files[name]
                entry = {"type": "file", "oid": _git_blob_oid(data), "size": len(data), "path": name}
                if name.endswith(DATASET_LFS_SUFFIXES):
                    entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                entries[name] = entry
        ordered = [entries[k] for k in sorted(entries)]
        start = int((query.get("cursor") or ["0"])[0] or 0)
        page = ordered[start : start + self.tree_page_size]
        headers = {}
        if start + self.tree_page_size < len(ordered):
            params = [(k, v) for k, vs in query.items() if k != "cursor" for v in vs]
            params.append(("cursor", str(start + len(page))))
            headers["Link"] = f'<{self.url}{raw_path}?{urlencode(params)}>; rel="next"'
        return 200, page, headers


DATASET_LFS_SUFFIXES = (*LFS_SUFFIXES, ".parquet", ".arrow", ".zip", ".tar", ".gz", ".npz", ".jpg", ".png")


def _front_matter(text: str) -> dict | None:
    """The YAML front matter of a dataset card (what the Hub returns as ``cardData``)."""
    import yaml  # huggingface_hub's own dependency

    if not text.startswith("---"):
        return None
    block = text.split("---", 2)
    return yaml.safe_load(block[1]) if len(block) == 3 else None


class _HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, as a real server sends them
    hub: FakeHub

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def _handle(self, method: str) -> None:
        hub = self.hub
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        target = self.path
        entry = LoggedRequest(
            method,
            path,
            query,
            0,
            self.headers.get("Authorization"),
            self.headers.get("User-Agent"),
            self.headers.get("Range"),
        )
        hub._log(entry)  # in arrival order; the status is filled in when answered
        for stall in list(hub._stalls):
            if stall.matches(target):
                stall.reached.set()
                stall.release.wait(120)
        if hub.latency_s:
            time.sleep(hub.latency_s)
        fault = hub._take_fault(method, target)
        if fault and fault.kind == "status":
            entry.status = fault.status
            headers = {"Retry-After": str(fault.retry_after)} if fault.status in (429, 503) else {}
            return self._send(method, fault.status, {"error": f"injected {fault.status}"}, headers)
        if fault and fault.kind == "slow":
            time.sleep(fault.seconds)
        bucket = "resolvers" if "/resolve/" in path else "api"
        if hub.required_token and self.headers.get("Authorization") != f"Bearer {hub.required_token}":
            entry.status = 401
            return self._send(method, 401, {"error": "Invalid credentials in Authorization header"}, {})
        allowed, rate_headers = hub._charge(bucket)
        if not allowed:
            entry.status = 429
            return self._send(method, 429, {"error": "You have exceeded our rate limit"}, rate_headers)
        status, body, headers = self._route(method, path, query)
        headers.update(rate_headers)
        entry.status = f"fault:{fault.kind}" if fault and fault.kind != "slow" else status
        try:
            self._send(method, status, body, headers, fault=fault)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout): nothing to do
            self.close_connection = True

    def _route(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[int, object, dict[str, str]]:
        hub = self.hub
        if path.startswith(("/api/datasets/", "/datasets/")):  # parsed still encoded: refs%2Fconvert%2Fparquet
            raw = urlsplit(self.path).path
            status, body, headers = hub.dataset_route(raw, query, self.headers.get("Authorization"))
            return self._with_range(status, body, headers)
        if path == "/api/models":
            return hub.list_models(query)
        if path.startswith("/api/models/"):
            rest = path[len("/api/models/") :]
            if "/tree/" in rest:
                repo_id, revision = rest.split("/tree/", 1)
                return hub.tree(repo_id, revision.split("/", 1)[0])
            if "/revision/" in rest:
                repo_id, revision = rest.split("/revision/", 1)
                return hub.model_info(repo_id, revision, query)
            return hub.model_info(rest, None, query)
        if "/resolve/" in path:
            repo_id, rest = path.lstrip("/").split("/resolve/", 1)
            if "/" not in rest:
                return 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"}
            revision, filename = rest.split("/", 1)
            status, body, headers = hub.file(repo_id, revision, filename)
            if status == 200 and self.headers.get("Range", "").startswith("bytes="):
                start_s, _, end_s = self.headers["Range"][6:].partition("-")
                start = int(start_s or 0)
                end = int(end_s) if end_s else len(body) - 1
                headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
                return 206, body[start : end + 1], headers
            return status, body, headers
        return 404, {"error": f"no route for {path}"}, {}

    def _with_range(self, status: int, body: object, headers: dict[str, str]) -> tuple[int, object, dict[str, str]]:
        """A 206 with ``Content-Range`` for a ``Range: bytes=...`` request of a file (the Hub's answer)."""
        if status == 200 and isinstance(body, bytes) and self.headers.get("Range", "").startswith("bytes="):
            start_s, _, end_s = self.headers["Range"][6:].partition("-")
            start = int(start_s or 0)
            end = min(int(end_s), len(body) - 1) if end_s else len(body) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
            return 206, body[start : end + 1], headers
        return status, body, headers

    def _send(
        self, method: str, status: int, body: object, headers: dict[str, str], fault: Fault | None = None
    ) -> None:
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        else:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        if fault and fault.kind == "bad_json":
            data = data[: max(1, len(data) // 2)]  # a cut-off document with an honest length
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        if fault and fault.kind in ("truncate", "reset"):
            self.send_header("Connection", "close")
        self.end_headers()
        if method == "HEAD":
            return
        if fault and fault.kind in ("truncate", "reset"):
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            if fault.kind == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        self.wfile.write(data)


# -------------------------------------------------------------------- synthetic Hub content

ARCHS = [  # (library, config, architecture label in ids, base model)
    (
        "transformers",
        {"architectures": ["ViTForImageClassification"], "model_type": "vit"},
        "vit-base-patch16-224",
        "google/vit-base-patch16-224-in21k",
    ),
    (
        "transformers",
        {"architectures": ["ConvNextForImageClassification"], "model_type": "convnext"},
        "convnext-tiny-224",
        "facebook/convnext-tiny-224",
    ),
    (
        "transformers",
        {"architectures": ["SwinForImageClassification"], "model_type": "swin"},
        "swin-tiny-patch4-window7-224",
        "microsoft/swin-tiny-patch4-window7-224",
    ),
    (
        "transformers",
        {"architectures": ["ResNetForImageClassification"], "model_type": "resnet"},
        "resnet-50",
        "microsoft/resnet-50",
    ),
    ("timm", {"architecture": "resnet50", "num_classes": 1000}, "resnet50", "timm/resnet50.a1_in1k"),
    (
        "timm",
        {"architecture": "efficientnet_b0", "num_classes": 1000},
        "efficientnet_b0",
        "timm/efficientnet_b0.ra_in1k",
    ),
]
DATASETS = [  # (Hub dataset id, short name, num_classes)
    ("uoft-cs/cifar10", "cifar10", 10),
    ("uoft-cs/cifar100", "cifar100", 100),
    ("ufldl-stanford/svhn", "svhn", 10),
    ("ylecun/mnist", "mnist", 10),
    ("ILSVRC/imagenet-1k", "imagenet-1k", 1000),
    ("albertvillanova/medmnist-v2", "bloodmnist", 8),
]
PAPERS = {
    "vit": "2010.11929",
    "convnext": "2201.03545",
    "swin": "2103.14030",
    "resnet": "1512.03385",
    "efficientnet": "1905.11946",
}
OTHER_TASKS = [
    "text-classification",
    "text-generation",
    "automatic-speech-recognition",
    "object-detection",
    "fill-mask",
]


@dataclass(frozen=True)
class HubDataset:
    """One entry of the ``hub`` dataset mix: what a card declares and what ``catalog.models`` must say."""

    declared: str | None  # the id the YAML, tags and model-index carry (None: the card names no dataset)
    expected: str | None  # catalog.models.dataset: our alias, else the Hub id in lower case; None for placeholders
    classes: int
    weight: int  # relative frequency in the mix
    short: str = ""  # the name the Trainer's sentence and the repo name use (default: the declared id's name)


# A Hub of today, as its Trainer-made image classifiers declare their data (weights are this fake's choice, not a
# measurement): the study's sets, the Hub's common sets under their legacy and namespaced ids, Hub ids we hold no
# alias for (kept in lower case), the Trainer's `imagefolder` placeholder, and cards that name no dataset.
HUB_MIX = [
    HubDataset("uoft-cs/cifar10", "cifar10", 10, 6, "cifar10"),
    HubDataset("cifar100", "cifar100", 100, 3),
    HubDataset("ylecun/mnist", "mnist", 10, 3, "mnist"),
    HubDataset("ILSVRC/imagenet-1k", "imagenet-1k", 1000, 2, "imagenet-1k"),
    HubDataset("beans", "beans", 3, 5),
    HubDataset("AI-Lab-Makerere/beans", "beans", 3, 4),
    HubDataset("food101", "food101", 101, 4),
    HubDataset("ethz/food101", "food101", 101, 3),
    HubDataset("cats_vs_dogs", "cats_vs_dogs", 2, 3),
    HubDataset("microsoft/cats_vs_dogs", "cats_vs_dogs", 2, 2),
    HubDataset("eurosat", "eurosat", 10, 2),
    HubDataset("blanchon/EuroSAT_RGB", "eurosat", 10, 2),
    HubDataset("timm/oxford-iiit-pet", "oxford-iiit-pet", 37, 2),
    HubDataset("nelorth/oxford-flowers", "flowers102", 102, 2),
    HubDataset("keremberke/chest-xray-classification", "chest-xray-pneumonia", 2, 2),
    HubDataset("Leafworks/Cassava-Leaves", "leafworks/cassava-leaves", 5, 3),
    HubDataset("radiology-lab/Knee_XRay_KL", "radiology-lab/knee_xray_kl", 5, 2),
    HubDataset("trash-sort/TrashNet-v2", "trash-sort/trashnet-v2", 6, 2),
    HubDataset("Galaxy-Fans/galaxy10_decals", "galaxy-fans/galaxy10_decals", 10, 2),
    HubDataset("someone/my-xray-set", "someone/my-xray-set", 3, 2),
    HubDataset("imagefolder", None, 4, 20),
    HubDataset(None, None, 4, 8, "unknown"),
]
DATASET_MIXES = ("study", "hub")


def _prose_names(entry: HubDataset, rng: random.Random) -> tuple[str, str]:
    """(how a bare card's Trainer sentence names ``entry``, the form's name): the name, a markdown link to the
    Hub's dataset page, or the first of two datasets ("on the a and b datasets")."""
    if entry.declared is None:
        return "an unknown dataset", "undeclared"
    if entry.declared == "imagefolder":
        return "the imagefolder dataset", "imagefolder"
    name = entry.short or entry.declared.rsplit("/", 1)[-1]
    form = rng.choice(("plain", "linked", "plural"))
    if form == "linked":
        return f"the [{name}](https://huggingface.co/datasets/{entry.declared}) dataset", "prose-linked"
    if form == "plural":
        other = rng.choice(("cifar10", "beans", "food101", "eurosat"))
        return f"the {entry.declared} and {other} datasets", "prose-plural"
    return f"the {entry.declared} dataset", "prose"


def synthetic_models(
    n: int, *, seed: int = 0, image_share: float = 0.25, bare_share: float = 1 / 3, datasets: str = "study"
) -> list[dict]:
    """``n`` realistic Hub models (fixed ``seed``): ``image_share`` image classifiers, of which about
    ``bare_share`` declare no metadata (their facts are only in the README body, as the Trainer writes it).

    ``datasets`` is the mix the image classifiers declare: ``study`` (the default; six sets every version of the
    dataset rule knew) or ``hub`` (:data:`HUB_MIX`, with the prose forms a bare card uses; see :func:`synthetic_hub`).
    """
    return synthetic_hub(n, seed=seed, image_share=image_share, bare_share=bare_share, datasets=datasets)[0]


def synthetic_hub(
    n: int, *, seed: int = 0, image_share: float = 0.25, bare_share: float = 1 / 3, datasets: str = "hub"
) -> tuple[list[dict], dict[str, tuple[str | None, str]]]:
    """:func:`synthetic_models`, and for each image classifier ``(expected catalog dataset, form)``: the form is
    where the dataset is declared (``yaml``: front matter, ``dataset:`` tag and model-index; ``prose``,
    ``prose-linked``, ``prose-plural``: a bare card's sentence), or ``imagefolder`` / ``undeclared`` (NULL).
    The ``study`` mix gives no such answers (an empty dict)."""
    if datasets not in DATASET_MIXES:
        raise ValueError(f"datasets={datasets!r}: expected one of {DATASET_MIXES}")
    rng = random.Random(seed)
    models, truth = [], {}
    for i in range(n):
        if rng.random() >= image_share:
            task = rng.choice(OTHER_TASKS)
            models.append(
                {
                    "id": f"user{i % 997}/{task.split('-')[0]}-model-{i}",
                    "pipeline_tag": task,
                    "library_name": "transformers",
                    "tags": ["transformers", task],
                    "downloads": rng.randint(0, 5000),
                    "likes": rng.randint(0, 50),
                    "card": f"# {task} model {i}\n",
                }
            )
            continue
        library, config, arch, base = rng.choice(ARCHS)
        if datasets == "study":
            hub_dataset, short, classes = rng.choice(DATASETS)
        else:
            entry = rng.choices(HUB_MIX, weights=[d.weight for d in HUB_MIX])[0]
            hub_dataset, classes = entry.declared, entry.classes
            short = entry.short or hub_dataset.rsplit("/", 1)[-1].lower()
        family = config.get("model_type") or config["architecture"].split("_")[0].rstrip("0123456789")
        paper = PAPERS.get(family)
        accuracy = round(rng.uniform(0.6, 0.99), 4)
        repo_id = f"user{i % 997}/{arch}-finetuned-{short}-{i}"
        created = (
            datetime(2022, 3, 2, 23, 29, 4, tzinfo=UTC)
            if rng.random() < 0.1
            else datetime(2023, 1, 1, tzinfo=UTC) + timedelta(hours=i)
        )
        bare = rng.random() < bare_share if datasets == "hub" else None  # drawn first: a bare card's prose varies
        trained_on, form = _prose_names(entry, rng) if bare else (f"the {short} dataset", "yaml")
        if hub_dataset is None:
            trained_on = "an unknown dataset"  # what the Trainer writes when it was given no dataset name
        body = (
            f"# {repo_id.split('/')[1]}\n\nThis model is a fine-tuned version of "
            f"[{base}](https://huggingface.co/{base}) "
            f"on {trained_on}.\nIt achieves the following results on the evaluation set:\n"
            f"- Loss: {rng.uniform(0.01, 1.0):.4f}\n- Accuracy: {accuracy}\n"
        )
        if paper:
            body += f"\nThe architecture is described in [the paper](https://arxiv.org/abs/{paper}).\n"
        tags = [library, "image-classification", "safetensors" if i % 3 else "pytorch", "generated_from_trainer"]
        if paper:
            tags.append(f"arxiv:{paper}")  # the Hub tags arXiv links it finds in the card
        model = {
            "id": repo_id,
            "pipeline_tag": "image-classification",
            "library_name": library,
            "downloads": rng.randint(0, 100_000),
            "likes": rng.randint(0, 300),
            "createdAt": _iso(created),
            "lastModified": _iso(created + timedelta(days=30)),
            "config": {**config, "num_classes": classes} if library == "timm" else dict(config),
            "safetensors": {"parameters": {"F32": 86_000_000}, "total": 86_000_000} if i % 3 else None,
        }
        if bare is None:
            bare = rng.random() < bare_share  # drawn here in the study mix, so its models stay what they always were
        if bare:
            model["tags"] = tags
            model["card"] = body
        else:
            form = {"imagefolder": "imagefolder", None: "undeclared"}.get(hub_dataset, "yaml")
            declared = [hub_dataset] if hub_dataset else []
            card_data = {
                "license": "apache-2.0",
                "datasets": declared,
                "base_model": base,
                "tags": ["generated_from_trainer"],
            }
            if not declared:
                del card_data["datasets"]  # no `datasets:` line when the Trainer had no dataset name
            result = {
                "task": {"type": "image-classification", "name": "Image Classification"},
                "dataset": {"name": short, "type": hub_dataset, "split": "test"},
                "metrics": [{"type": "accuracy", "value": accuracy, "name": "Accuracy"}],
            }
            if not declared:
                del result["dataset"]  # the Trainer's model-index names no dataset when it was given none
            model_index = [{"name": repo_id.split("/")[1], "results": [result]}]
            model["cardData"] = card_data
            model["model-index"] = model_index
            model["tags"] = [
                *tags,
                *(f"dataset:{d}" for d in declared),
                f"base_model:{base}",
                "license:apache-2.0",
                "model-index",
            ]
            front = json.dumps({**card_data, "model-index": model_index})  # JSON is valid YAML
            model["card"] = f"---\n{front}\n---\n\n{body}"
        models.append(model)
        if datasets == "hub":
            truth[repo_id] = (entry.expected, form)
    return models, truth


# -------------------------------------------------------------------- model-tree cases


def _tree_model(repo_id: str, *, downloads: int = 10, card: str | None = None, **fields) -> dict:
    """An image classifier whose listing has a dataset, a paper and an accuracy (so its card is not fetched),
    unless ``card`` is given and ``fields`` lack them."""
    model = {
        "id": repo_id,
        "pipeline_tag": "image-classification",
        "library_name": "transformers",
        "downloads": downloads,
        "likes": 1,
        "config": {"architectures": ["ViTForImageClassification"], "model_type": "vit"},
        "safetensors": {"parameters": {"F32": 1000}, "total": 1000},
        "tags": ["transformers", "image-classification", "arxiv:2010.11929", "dataset:uoft-cs/cifar10"],
        "model-index": [
            {
                "name": repo_id.split("/")[-1],
                "results": [
                    {
                        "task": {"type": "image-classification"},
                        "dataset": {"name": "cifar10", "type": "uoft-cs/cifar10"},
                        "metrics": [{"type": "accuracy", "value": 0.9}],
                    }
                ],
            }
        ],
    }
    tags = fields.pop("extra_tags", [])
    model.update(fields)
    model["tags"] = [*model["tags"], *tags]
    if card is not None:
        model["card"] = card
    return model


def lineage_models() -> tuple[list[dict], set[tuple[str, str, str, str]]]:
    """Hub models declaring their parents every way the Hub lets them, and the ``catalog.model_tree`` edges
    ``(child_id, parent_id, relation, evidence)`` they must give: a scalar and a list ``base_model`` (one parent,
    two for a merge, an id in other letter case), ``base_model_relation``, relation tags and the plain tag,
    ``baseModels``, a two-model cycle, a parent outside the catalog, the Trainer's prose (a bare card), and
    declarations that give no edge (the model itself, a local path)."""
    hf = "huggingface:"
    bare_card = (
        "# bare-prose\n\nThis model is a fine-tuned version of "
        "[tree/scalar-child](https://huggingface.co/tree/scalar-child) on the cifar10 dataset.\n"
        "It achieves the following results on the evaluation set:\n- Accuracy: 0.91\n"
    )
    models = [
        _tree_model("base-org/vit-root", downloads=900),
        _tree_model("tree/scalar-child", cardData={"base_model": "base-org/vit-root"}),
        _tree_model("tree/list-one", cardData={"base_model": ["BASE-ORG/ViT-Root"], "base_model_relation": "adapter"}),
        _tree_model("tree/merged", cardData={"base_model": ["base-org/vit-root", "tree/scalar-child"]}),
        _tree_model(
            "tree/quantized-by-tag",
            extra_tags=["base_model:quantized:base-org/vit-root", "base_model:base-org/vit-root"],
        ),
        _tree_model("tree/plain-tag", extra_tags=["base_model:tree/scalar-child"]),
        _tree_model("tree/from-model-info", baseModels={"relation": "finetune", "models": [{"id": "tree/list-one"}]}),
        _tree_model(
            "tree/card-beats-tag",
            cardData={"base_model": "tree/merged", "base_model_relation": "quantized"},
            extra_tags=["base_model:finetune:tree/merged"],
        ),
        _tree_model(
            "tree/cycle-a", cardData={"base_model": "tree/cycle-b"}, extra_tags=["base_model:finetune:tree/cycle-b"]
        ),
        _tree_model(
            "tree/cycle-b", cardData={"base_model": "tree/cycle-a"}, extra_tags=["base_model:finetune:tree/cycle-a"]
        ),
        _tree_model("tree/outside-child", cardData={"base_model": "https://huggingface.co/facebook/not-crawled"}),
        _tree_model("tree/peft-adapter", library_name="peft", cardData={"base_model": "base-org/vit-root"}),
        _tree_model(
            "tree/self-and-path", cardData={"base_model": ["tree/self-and-path", "/content/drive/MyDrive/ckpt"]}
        ),
        {
            "id": "tree/bare-prose",
            "pipeline_tag": "image-classification",
            "library_name": "transformers",
            "downloads": 5,
            "tags": ["transformers", "image-classification", "generated_from_trainer"],
            "card": bare_card,
        },
        # a parent the Hub serves but the crawl does not list (another task): outside the catalog too
        {"id": "facebook/not-crawled", "pipeline_tag": "image-feature-extraction", "library_name": "transformers"},
    ]
    expected = {
        (hf + "tree/scalar-child", hf + "base-org/vit-root", "unknown", "card"),
        (hf + "tree/list-one", hf + "base-org/vit-root", "adapter", "card"),
        (hf + "tree/merged", hf + "base-org/vit-root", "merge", "card"),
        (hf + "tree/merged", hf + "tree/scalar-child", "merge", "card"),
        (hf + "tree/quantized-by-tag", hf + "base-org/vit-root", "quantized", "tag"),
        (hf + "tree/plain-tag", hf + "tree/scalar-child", "unknown", "tag"),
        (hf + "tree/from-model-info", hf + "tree/list-one", "finetune", "model_info"),
        (hf + "tree/card-beats-tag", hf + "tree/merged", "quantized", "card"),
        (hf + "tree/cycle-a", hf + "tree/cycle-b", "finetune", "card"),
        (hf + "tree/cycle-b", hf + "tree/cycle-a", "finetune", "card"),
        (hf + "tree/outside-child", hf + "facebook/not-crawled", "unknown", "card"),
        (hf + "tree/peft-adapter", hf + "base-org/vit-root", "adapter", "card"),
        (hf + "tree/bare-prose", hf + "tree/scalar-child", "finetune", "card"),
    }
    return models, expected
