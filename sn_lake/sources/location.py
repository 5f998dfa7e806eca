"""What the sources read from one location setting (a local path or an http(s) URL) share.

SecurityNet's table, RobustBench's ``model_info/`` and timm's ``results/`` are each configured as one location
(``SN_LAKE_*_URL``, docs/architecture.md). The two folders are crawled the same way: one raw record per file whose
payload keeps the body as received (:func:`file_payload`), a manifest record after the last file that marks the
snapshot complete, and a state saved after every step so that a killed crawl resumes (:class:`FolderCrawl`).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sn_lake import lake
from sn_lake.config import Settings
from sn_lake.http_client import PoliteClient, RetryPolicy

MANIFEST = "_manifest"  # the native id of the record that lists every file of a complete snapshot


class SourceUnreachable(RuntimeError):
    """The location could not be read (network down, a missing file or folder, an answer that holds nothing)."""


def is_url(location: str) -> bool:
    """Whether a location setting is an http(s) URL rather than a local path."""
    return bool(re.match(r"https?://", location))


def file_payload(path: str, status: int, body: bytes | None) -> dict:
    """The payload of one file's record: its path and status, and its body as received (``text``, or ``base64``
    when it is not UTF-8, which the catalog build quarantines) with its sha256."""
    payload: dict = {"path": path, "status": status}
    if body is None:
        return payload
    payload["sha256"] = hashlib.sha256(body).hexdigest()
    try:
        payload["text"] = body.decode("utf-8")
    except UnicodeDecodeError:
        payload["base64"] = base64.b64encode(body).decode("ascii")
    return payload


@contextmanager
def client_for(client: PoliteClient | None, source: str, timeout: float) -> Iterator[PoliteClient]:
    """``client`` as given (the caller closes it), or a client of the crawl's own, closed when the crawl ends."""
    if client is not None:
        yield client
        return
    with PoliteClient(policy=RetryPolicy(attempts=4), timeout=timeout, name=source) as own:
        yield own


@dataclass
class FolderCrawl:
    """One crawl of a folder's files into ``lake/raw/<source>/``. ``shown`` is the location without a password: what
    the state, the manifest and the summary hold, and how a saved state is matched to the location it crawled."""

    settings: Settings
    source: str
    shown: str
    resumed: bool = False
    started: float = field(default_factory=time.monotonic)

    def unfinished_state(self, key: str) -> dict | None:
        """The saved state of an unfinished crawl of this location (one that holds ``key``), or None to start anew."""
        state = lake.load_state(self.settings, self.source)
        self.resumed = state.get("url") == self.shown and key in state and not state.get("finished")
        return state if self.resumed else None

    def finish(self, crawl_id: str, files: list[str], step: int, counts: dict) -> dict:
        """Write the manifest record (lake step ``step``, listing ``files``), close the crawl with its summary
        (``counts``, then the location, whether it resumed and how long it took) and return that summary."""
        manifest = {"native_id": MANIFEST, "request_url": self.shown, "payload": {"url": self.shown, "files": files}}
        lake.write_raw(self.settings, self.source, crawl_id, step, [manifest])
        seconds = round(time.monotonic() - self.started, 3)
        summary = {**counts, "url": self.shown, "resumed": self.resumed, "seconds": seconds}
        lake.finish_crawl(self.settings, self.source, crawl_id, summary)
        lake.save_state(self.settings, self.source, {"url": self.shown, "finished": True, "last_crawl_id": crawl_id})
        return {"crawl_id": crawl_id, **summary}
