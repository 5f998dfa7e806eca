"""Loopback GitHub REST API and Zenodo records API.

The GitHub side serves releases with ``Link`` pagination, repository contents and ranged downloads.

Repositories and records are recorded-style: osmr/imgclsmob's release assets named
``<model>-<error>-<hash>.pth.zip`` spread over pages, a repository whose only weights are one
archive, one without weights, one that is gone, a repository whose files can be read (safetensors,
a legacy ``torch.save`` pickle), and Zenodo records (the MedMNIST weights, one deleted record).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import struct
from urllib.parse import urlencode

from tests.loopback_server import FakeApi, Request, Response

GITHUB = "/github"
ZENODO = "/zenodo/api"
RELEASES_PAGE = 2  # the fake's page size, whatever per_page asks


def safetensors_bytes() -> bytes:
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "__metadata__": {"format": "pt"}}
    ).encode()
    return struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, 2.0)


def legacy_torch_bytes() -> bytes:
    return pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps({"weight": [1.0, 2.0]}, protocol=2)


def _asset(name, size, data=None):
    return {
        "name": name,
        "size": size,
        "content_type": "application/zip",
        "digest": "sha256:" + hashlib.sha256(name.encode()).hexdigest(),
        "data": data,
    }


REPOS = {
    "osmr/imgclsmob": {
        "releases": [
            {
                "tag_name": "v0.0.1",
                "assets": [
                    _asset("resnet18-0477-cd27a4a1.pth.zip", 43_000_000),
                    _asset("resnet34-0384-a4b0d6ff.pth.zip", 81_000_000),
                ],
            },
            {
                "tag_name": "v0.0.2",
                "assets": [_asset("mobilenet_w1-0720-d9cd6b33.pth.zip", 16_000_000), _asset("README.txt", 10)],
            },
            {
                "tag_name": "v0.0.3",
                "assets": [_asset(f"seresnet{n}-0{n}-0000aaaa.pth.zip", 1000 + n) for n in range(10, 35)],
            },
        ],
        "contents": {"pytorch": [("pytorchcv", "dir", 0), ("README.md", "file", 4000), ("setup.py", "file", 1200)]},
    },
    "IVRL/AdversaryLossLandscape": {
        "releases": [{"tag_name": "v1.0", "assets": [_asset("checkpoints.zip", 2_000_000_000)]}],
        "contents": {"": [("README.md", "file", 3000), ("train.py", "file", 9000)]},
    },
    "PKU-ML/non_neg": {"releases": [], "contents": {"": [("README.md", "file", 100), ("main.py", "file", 100)]}},
    "acme/robust-vit": {
        "releases": [
            {
                "tag_name": "v2",
                "assets": [
                    _asset("robust_vit_b16.safetensors", len(safetensors_bytes()), safetensors_bytes()),
                    _asset("robust_vit_b16.pth", len(legacy_torch_bytes()), legacy_torch_bytes()),
                ],
            }
        ],
        "contents": {"": [("README.md", "file", 100)]},
    },
}

RECORDS = {
    "10519652": [
        ("resnet18_28_1.pth", 44_800_000),
        ("weights_bloodmnist.zip", 900_000_000),
        ("weights_pathmnist.zip", 910_000_000),
        ("README.md", 2_000),
    ],
}
DELETED_RECORDS = {"999"}


class FakeWeightsHosts(FakeApi):
    def __init__(self) -> None:
        super().__init__()
        self.base_url = ""  # set by the fixture once the server listens
        self.route("GET", GITHUB + "/repos/", self.github, prefix=True)
        self.route("GET", GITHUB + "/download/", self.download, prefix=True)
        self.route("GET", ZENODO + "/records/", self.zenodo, prefix=True)

    @staticmethod
    def environment(base_url: str) -> dict[str, str]:
        return {"SN_LAKE_GITHUB_URL": base_url + GITHUB, "SN_LAKE_ZENODO_URL": base_url + ZENODO}

    @staticmethod
    def _github_headers() -> dict[str, str]:
        return {"X-GitHub-Api-Version": "2022-11-28", "X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59"}

    def github(self, request: Request) -> Response:
        parts = request.path.removeprefix(GITHUB + "/repos/").split("/")
        repo = REPOS.get("/".join(parts[:2]))
        if repo is None:
            return Response(
                404,
                {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
                self._github_headers(),
            )
        name = "/".join(parts[:2])
        if parts[2:] == ["releases"]:
            page = int(request.arg("page", "1"))
            releases = repo["releases"][(page - 1) * RELEASES_PAGE : page * RELEASES_PAGE]
            headers = self._github_headers()
            if page * RELEASES_PAGE < len(repo["releases"]):
                query = urlencode({"per_page": RELEASES_PAGE, "page": page + 1})
                nxt = f"{self.base_url}{GITHUB}/repos/{name}/releases?{query}"
                headers["Link"] = f'<{nxt}>; rel="next"'
            downloads = f"{self.base_url}{GITHUB}/download/{name}"
            body = [
                {
                    "tag_name": r["tag_name"],
                    "assets": [
                        {k: v for k, v in a.items() if k != "data"}
                        | {"browser_download_url": f"{downloads}/{r['tag_name']}/{a['name']}"}
                        for a in r["assets"]
                    ],
                }
                for r in releases
            ]
            return Response(200, body, headers)
        if parts[2:3] == ["contents"]:
            path = "/".join(parts[3:])
            items = repo["contents"].get(path)
            if items is None:
                return Response(404, {"message": "Not Found"}, self._github_headers())
            body = [
                {
                    "name": n,
                    "path": f"{path}/{n}".lstrip("/"),
                    "type": t,
                    "size": s,
                    "sha": hashlib.sha1(n.encode()).hexdigest(),
                    "download_url": f"https://raw.githubusercontent.com/{name}/master/{n}" if t == "file" else None,
                }
                for n, t, s in items
            ]
            return Response(200, body, self._github_headers())
        return Response(404, {"message": "Not Found"})

    def download(self, request: Request) -> Response:
        owner, repo, tag, name = request.path.removeprefix(GITHUB + "/download/").split("/", 3)
        release = next((r for r in REPOS[f"{owner}/{repo}"]["releases"] if r["tag_name"] == tag), None)
        asset = next((a for a in (release or {}).get("assets", []) if a["name"] == name), None)
        if asset is None or asset["data"] is None:
            return Response(404, "Not Found")
        data = asset["data"]
        ranged = request.headers.get("range", "")
        if ranged.startswith("bytes="):
            start, end = (int(x) for x in ranged[6:].split("-"))
            part = data[start : end + 1]
            return Response(
                206,
                part,
                {
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"bytes {start}-{start + len(part) - 1}/{len(data)}",
                },
            )
        return Response(200, data, {"Content-Type": "application/octet-stream"})

    def zenodo(self, request: Request) -> Response:
        record_id = request.path.removeprefix(ZENODO + "/records/").strip("/")
        if record_id in DELETED_RECORDS:
            return Response(410, {"status": 410, "message": "PID has been deleted."})
        files = RECORDS.get(record_id)
        if files is None:
            return Response(404, {"status": 404, "message": "The persistent identifier does not exist."})
        body = {
            "id": int(record_id),
            "metadata": {"title": "MedMNIST+ model weights"},
            "files": [
                {
                    "id": hashlib.md5(k.encode()).hexdigest(),
                    "key": k,
                    "size": s,
                    "checksum": "md5:" + hashlib.md5(k.encode()).hexdigest(),
                    "links": {"self": f"{self.base_url}{ZENODO}/records/{record_id}/files/{k}/content"},
                }
                for k, s in files
            ],
        }
        return Response(200, body)
