"""A loopback Kaggle Models API speaking kagglesdk's JSON (``POST /api/v1/models.ModelApiService/<Method>``).

kagglesdk's TEST environment points at ``http://localhost:7777``, so the fake listens there. The
catalogue below is recorded-style: image classifiers with several frameworks and variations, models
of other tasks that the crawl must leave out, a model that disappears between the listing and
``GetModel``, and instances with missing licences or training data. Page tokens are opaque, and
:class:`FakeKaggle` can answer with errors (429, 503, JSON error bodies) or a slow page on demand.

Downloads: ``FakeKaggle.serve_instance(owner, model, slug, framework, folder)`` adds an instance (and its model,
when new) whose files are ``folder``; ``DownloadModelInstanceVersion`` then answers as Kaggle does, a 302 to a
storage URL that serves the files as a ``.tar.gz`` archive (``archive="zip"`` or ``"raw"`` for the other shapes).
"""

from __future__ import annotations

import base64
import copy
import io
import tarfile
import zipfile
from pathlib import Path

from tests.loopback_server import FakeApi, Request, Response

PORT = 7777
SERVICE = "/api/v1/models.ModelApiService"
TOKEN = "kaggle-test-token-0123456789"


def _instance(owner, model, slug, framework, version, training, license_name=None, overview=""):
    body = {
        "id": abs(hash((owner, model, slug, framework))) % 10**6,
        "ownerSlug": owner,
        "modelSlug": model,
        "slug": slug,
        "versionId": 1000 + version,
        "versionNumber": version,
        "framework": framework,
        "overview": overview,
        "usage": "",
        "trainingData": training,
        "totalUncompressedBytes": 1234567,
    }
    if license_name:
        body["license"] = {"id": 7, "name": license_name}
    return body


def _model(mid, owner, slug, title, subtitle, tags, description, published, instances):
    return {
        "summary": {
            "id": mid,
            "ref": f"{owner}/{slug}",
            "title": title,
            "subtitle": subtitle,
            "author": owner,
            "slug": slug,
            "isPrivate": False,
            "tags": [{"ref": t.lower().replace(" ", "-"), "name": t, "fullPath": f"task > {t.lower()}"} for t in tags],
            "publishTime": published,
            "updateTime": published.replace("2023", "2024"),
            "url": f"https://www.kaggle.com/models/{owner}/{slug}",
            "voteCount": mid * 3,
        },
        "description": description,
        "instances": instances,
    }


# Listed in this order (the API's "hotness" order); ids are stable.
MODELS = [
    _model(
        1,
        "google",
        "efficientnet-v2",
        "EfficientNet V2",
        "Image classifiers from EfficientNetV2",
        ["Image Classification", "Computer Vision"],
        "EfficientNetV2: Smaller Models and Faster Training (arXiv:2104.00298).",
        "2023-05-02T10:00:00.000Z",
        [
            _instance(
                "google",
                "efficientnet-v2",
                "imagenet1k-b0-classification",
                "MODEL_FRAMEWORK_TENSOR_FLOW_2",
                2,
                ["ImageNet-1k"],
                "Apache 2.0",
            ),
            _instance(
                "google",
                "efficientnet-v2",
                "imagenet21k-ft1k-s-classification",
                "MODEL_FRAMEWORK_TENSOR_FLOW_2",
                1,
                ["ImageNet-21k", "ImageNet-1k"],
                "Apache 2.0",
            ),
            _instance(
                "google",
                "efficientnet-v2",
                "efficientnetv2_b0_imagenet",
                "MODEL_FRAMEWORK_KERAS",
                3,
                ["imagenet"],
                "Apache 2.0",
            ),
        ],
    ),
    _model(
        2,
        "google",
        "bert",
        "BERT",
        "Bidirectional encoder for text",
        ["Text Classification", "NLP"],
        "BERT (arXiv:1810.04805).",
        "2023-03-01T08:00:00.000Z",
        [_instance("google", "bert", "en-uncased", "MODEL_FRAMEWORK_TENSOR_FLOW_2", 1, ["Wikipedia"], "Apache 2.0")],
    ),
    _model(
        3,
        "timm",
        "resnet",
        "ResNet",
        "timm ResNet weights",
        ["Image Classification"],
        "Deep Residual Learning, https://arxiv.org/abs/1512.03385v1 and ResNet strikes back arXiv:2110.00476.",
        "2023-07-11T09:30:00.000Z",
        [
            _instance(
                "timm", "resnet", "resnet18-a1-in1k", "MODEL_FRAMEWORK_PY_TORCH", 1, ["imagenet-1k"], "Apache 2.0"
            ),
            _instance(
                "timm", "resnet", "resnet50-a1-in1k", "MODEL_FRAMEWORK_PY_TORCH", 1, ["imagenet-1k"], "Apache 2.0"
            ),
        ],
    ),
    _model(
        4,
        "someone",
        "cifar-resnet",
        "CIFAR ResNet",
        "A CIFAR-10 image classification model",
        [],
        "Trained from scratch.",
        "2023-09-20T00:00:00.000Z",
        [_instance("someone", "cifar-resnet", "default", "MODEL_FRAMEWORK_PY_TORCH", 1, ["CIFAR-10"])],  # no licence
    ),
    _model(
        5,
        "ghost",
        "vanished",
        "Vanished classifier",
        "image classification",
        ["Image Classification"],
        "",
        "2023-01-01T00:00:00.000Z",
        [],
    ),  # listed, but GetModel answers 404: it was deleted between the two calls
    _model(
        6,
        "keras",
        "vit",
        "Vision Transformer",
        "ViT image classifiers",
        ["Image Classification"],
        "An Image is Worth 16x16 Words, arXiv 2010.11929.",
        "2023-11-05T12:00:00.000Z",
        [
            _instance(
                "keras", "vit", "vit_base_patch16_224_imagenet", "MODEL_FRAMEWORK_KERAS", 2, ["ImageNet"], "Apache 2.0"
            ),
            _instance(
                "keras", "vit", "vit_large_patch16_224_imagenet", "MODEL_FRAMEWORK_KERAS", 2, ["ImageNet"], "Apache 2.0"
            ),
            _instance(
                "keras", "vit", "vit_base_patch16_224_cifar", "MODEL_FRAMEWORK_JAX", 1, [], "Apache 2.0"
            ),  # no data
        ],
    ),
    _model(
        7,
        "google",
        "gemma",
        "Gemma",
        "Open LLM",
        ["Text Generation"],
        "Gemma.",
        "2024-02-21T00:00:00.000Z",
        [_instance("google", "gemma", "2b", "MODEL_FRAMEWORK_KERAS", 1, [], "Gemma")],
    ),
]

INSTANCES_PAGE_SIZE = 2  # ListModelInstances pages, whatever the client asks


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode_token(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        kind, value = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        return int(value) if kind == "offset" else None
    except ValueError:
        return None


def kaggle_error(status: int, message: str, headers: dict | None = None) -> Response:
    """An error the way Kaggle's API answers one: a JSON body with ``code`` and ``message``."""
    return Response(status, {"code": status, "message": message}, headers=headers or {})


class FakeKaggle(FakeApi):
    def __init__(self, token: str | None = TOKEN, models: list[dict] | None = None) -> None:
        super().__init__()
        self.token = token
        self.models = MODELS if models is None else models
        self.gone = {"ghost/vanished"}
        self.broken_pages: dict[int, Response] = {}  # listing offset -> the error it keeps answering
        self.slow_pages: dict[int, float] = {}  # listing offset -> seconds its next answer is delayed (once)
        self.blobs: dict[str, bytes] = {}  # "owner/model/FRAMEWORK_ENUM/slug/version" -> the archive served
        for method, handler in {
            "ListModels": self.list_models,
            "GetModel": self.get_model,
            "ListModelInstances": self.list_instances,
            "DownloadModelInstanceVersion": self.download,
        }.items():
            self.route("POST", f"{SERVICE}/{method}", self._authorized(handler))
        self.route("GET", STORAGE, self.storage, prefix=True)

    def serve_instance(
        self,
        owner: str,
        model: str,
        slug: str,
        framework: str,
        folder: Path | None,
        *,
        version: int = 1,
        training: tuple[str, ...] = (),
        overview: str = "",
        usage: str = "",
        title: str | None = None,
        archive: str = "tar.gz",
    ) -> str:
        """Add an instance whose files are ``folder`` (None: listed, but no files to download); returns its handle."""
        self.models = copy.deepcopy(self.models)  # never change the module's MODELS
        instance = _instance(owner, model, slug, framework, version, list(training), "Apache 2.0", overview)
        instance["usage"] = usage
        found = next((m for m in self.models if m["summary"]["ref"] == f"{owner}/{model}"), None)
        if found is None:
            found = _model(
                100 + len(self.models),
                owner,
                model,
                title or model,
                "An image classification model",
                ["Image Classification"],
                overview,
                "2024-03-01T00:00:00.000Z",
                [],
            )
            self.models.append(found)
        found["instances"] = [i for i in found["instances"] if i["slug"] != slug] + [instance]
        if folder is not None:
            self.blobs[f"{owner}/{model}/{framework}/{slug}/{version}"] = _pack(Path(folder), archive)
        from sn_lake.kaggle_client import framework_handle

        return f"{owner}/{model}/{framework_handle(framework)}/{slug}"

    def download(self, request: Request) -> Response:
        body = request.json() or {}
        fields = ("ownerSlug", "modelSlug", "framework", "instanceSlug", "versionNumber")
        key = "/".join(str(body.get(k)) for k in fields)
        if key not in self.blobs:
            return kaggle_error(404, f"Model instance version {key} not found.")
        return Response(302, b"", headers={"Location": f"{STORAGE}{key}/model.tar.gz?X-Goog-Signature=fake"})

    def storage(self, request: Request) -> Response:
        key = request.path.removeprefix(STORAGE).removesuffix("/model.tar.gz")
        if key not in self.blobs:
            return Response(404, b"NoSuchKey", headers={"Content-Type": "application/xml"})
        return Response(200, self.blobs[key], headers={"Content-Type": "application/octet-stream"})

    @staticmethod
    def path(method: str) -> str:
        return f"{SERVICE}/{method}"

    def _authorized(self, handler):
        def wrapped(request: Request) -> Response:
            if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
                return kaggle_error(401, "Unauthenticated: a valid API token is required.")
            return handler(request)

        return wrapped

    def list_models(self, request: Request) -> Response:
        body = request.json() or {}
        offset = decode_token(body.get("pageToken"))
        if offset is None:
            return kaggle_error(400, f"Invalid page token {body.get('pageToken')!r}.")
        if offset in self.broken_pages:
            return self.broken_pages[offset]
        size = int(body.get("pageSize") or 20)
        page = self.models[offset : offset + size]
        nxt = offset + size
        body = {
            "models": [m["summary"] for m in page],
            "nextPageToken": encode_token(nxt) if nxt < len(self.models) else "",
            "totalResults": len(self.models),
        }
        return Response(200, body, delay_s=self.slow_pages.pop(offset, 0.0))

    def _find(self, body: dict) -> dict | None:
        ref = f"{body.get('ownerSlug')}/{body.get('modelSlug')}"
        if ref in self.gone:
            return None
        return next((m for m in self.models if m["summary"]["ref"] == ref), None)

    def get_model(self, request: Request) -> Response:
        model = self._find(request.json() or {})
        if model is None:
            return kaggle_error(404, "Model not found.")
        full = dict(model["summary"], description=model["description"])
        full["instances"] = [
            {
                "id": i["id"],
                "slug": i["slug"],
                "framework": i["framework"],
                "versionNumber": i["versionNumber"],
                "trainingData": i["trainingData"],
                "licenseName": i.get("license", {}).get("name", ""),
                "url": f"{model['summary']['url']}/{i['framework']}/{i['slug']}",
            }
            for i in model["instances"]
        ]
        return Response(200, full)

    def list_instances(self, request: Request) -> Response:
        body = request.json() or {}
        model = self._find(body)
        if model is None:
            return kaggle_error(404, "Model not found.")
        offset = decode_token(body.get("pageToken"))
        if offset is None:
            return kaggle_error(400, f"Invalid page token {body.get('pageToken')!r}.")
        page = model["instances"][offset : offset + INSTANCES_PAGE_SIZE]
        nxt = offset + INSTANCES_PAGE_SIZE
        return Response(
            200, {"instances": page, "nextPageToken": encode_token(nxt) if nxt < len(model["instances"]) else ""}
        )


STORAGE = "/storage/kaggle-models/"


def _pack(folder: Path, archive: str) -> bytes:
    """``folder``'s files as Kaggle serves an instance version: a .tar.gz (or a zip, or the one file as it is)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    buffer = io.BytesIO()
    if archive == "raw":
        assert len(files) == 1, "a raw download is one file"
        return files[0].read_bytes()
    if archive == "zip":
        with zipfile.ZipFile(buffer, "w") as z:
            for path in files:
                z.write(path, path.relative_to(folder).as_posix())
        return buffer.getvalue()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in files:
            tar.add(path, arcname=path.relative_to(folder).as_posix())
    return buffer.getvalue()


def image_classifier_handles() -> set[str]:
    """``owner/model/framework/variation`` of every instance the crawl should keep (framework as in Kaggle handles)."""
    from sn_lake.kaggle_client import framework_handle

    keep = {"google/efficientnet-v2", "timm/resnet", "someone/cifar-resnet", "keras/vit"}
    return {
        f"{i['ownerSlug']}/{i['modelSlug']}/{framework_handle(i['framework'])}/{i['slug']}"
        for m in MODELS
        if m["summary"]["ref"] in keep
        for i in m["instances"]
    }
