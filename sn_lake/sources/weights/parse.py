"""Weights links and answers -> typed values (pure functions): the link a weights URL is, the weight files an answer
lists."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

from sn_lake.weight_formats import is_weight_file


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


def files_of(answer: dict) -> list[dict]:
    """The weight files of one raw answer: ``filename``, ``url``, ``size_bytes``, ``checksum``, ``origin``."""
    out = []
    for release in answer.get("releases") or []:
        for asset in release.get("assets") or []:
            out.append(
                {
                    "filename": asset.get("name"),
                    "url": asset.get("browser_download_url"),
                    "size_bytes": asset.get("size"),
                    "checksum": asset.get("digest"),
                    "origin": f"github-release:{release.get('tag_name')}",
                }
            )
    for item in answer.get("contents") or []:
        if item.get("type") == "file":
            out.append(
                {
                    "filename": item.get("name"),
                    "url": item.get("download_url"),
                    "size_bytes": item.get("size"),
                    "checksum": f"git-sha1:{item['sha']}" if item.get("sha") else None,
                    "origin": "github-contents",
                }
            )
    files = (answer.get("record") or {}).get("files") or []
    if isinstance(files, dict):  # InvenioRDM: {"enabled": ..., "entries": {key: file}}
        entries = files.get("entries") or {}
        files = list(entries.values()) if isinstance(entries, dict) else entries
    for item in files:
        links = item.get("links") or {}
        out.append(
            {
                "filename": item.get("key") or item.get("filename"),
                "url": links.get("self") or links.get("content"),
                "size_bytes": item.get("size") or item.get("filesize"),
                "checksum": item.get("checksum"),
                "origin": "zenodo",
            }
        )
    return [f for f in out if f["filename"] and is_weight_file(f["filename"])]
