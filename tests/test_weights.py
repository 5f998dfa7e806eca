"""Weights behind the links: GitHub and Zenodo answers (loopback) -> lake -> catalog.weight_files."""

import io
import pickle
import zipfile

import polars as pl
import pytest

from sn_lake import config, lake, warehouse, weight_formats
from sn_lake import http_client as http
from sn_lake.catalog import weights as weights_catalog
from sn_lake.sources.weights import crawl as weights
from tests.fake_weights import GITHUB, ZENODO, FakeWeightsHosts, legacy_torch_bytes, safetensors_bytes
from tests.loopback_server import LoopbackServer, Response

FAST = http.RetryPolicy(attempts=3, backoff_base=0.0, seed=0)

MODELS = [  # model_id, name, dataset, weights_url: as the SecurityNet table links them
    (
        "securitynet:benchmark/imagenet/resnet18",
        "resnet18",
        "imagenet-1k",
        "https://github.com/osmr/imgclsmob/tree/master/pytorch",
    ),
    (
        "securitynet:benchmark/imagenet/mobilenet_w1",
        "mobilenet_w1",
        "imagenet-1k",
        "https://github.com/osmr/imgclsmob/tree/master/pytorch",
    ),
    (
        "securitynet:benchmark/imagenet/bagnet9",
        "bagnet9",
        "imagenet-1k",
        "https://github.com/osmr/imgclsmob/tree/master/pytorch",
    ),
    (
        "securitynet:security/cifar10/pgd",
        "pgd_eps8",
        "cifar10",
        "https://github.com/IVRL/AdversaryLossLandscape/tree/master",
    ),
    ("securitynet:security/cifar10/nonneg", "nonneg", "cifar10", "https://github.com/PKU-ML/non_neg"),
    ("securitynet:security/cifar10/gone", "gone", "cifar10", "https://github.com/gone/repo.git"),
    (
        "securitynet:benchmark/imagenet/robust",
        "robust_vit_b16",
        "imagenet-1k",
        "https://github.com/acme/robust-vit?tab=readme-ov-file",
    ),
    ("securitynet:benchmark/bloodmnist/r18", "resnet18_28_1.pth", "bloodmnist", "https://zenodo.org/records/10519652"),
    ("securitynet:benchmark/pathmnist/r50", "resnet50_224_2.pth", "pathmnist", "https://zenodo.org/records/10519652"),
    ("securitynet:benchmark/x/deleted", "x", None, "https://zenodo.org/record/999"),
]


@pytest.fixture
def fake_hosts(sn_home, monkeypatch):
    api = FakeWeightsHosts()
    with LoopbackServer(api) as server:
        api.base_url = server.url
        for name, value in FakeWeightsHosts.environment(server.url).items():
            monkeypatch.setenv(name, value)
        yield api


def models_frame() -> pl.DataFrame:
    return pl.DataFrame(MODELS, schema=["model_id", "name", "dataset", "weights_url"], orient="row")


def rows_for(frame: pl.DataFrame, model_id: str) -> list[dict]:
    return frame.filter(model_id=model_id).sort("filename").to_dicts()


@pytest.mark.parametrize(
    "url, link",
    [
        (
            "https://github.com/osmr/imgclsmob/tree/master/pytorch",
            weights.Link("github", "osmr/imgclsmob", "master", "pytorch"),
        ),
        ("http://www.github.com/IBM/VillanDiffusion.git", weights.Link("github", "IBM/VillanDiffusion")),
        (
            "https://github.com/Trustworthy-AI-Group/BPA?tab=readme-ov-file",
            weights.Link("github", "Trustworthy-AI-Group/BPA"),
        ),
        ("https://github.com/a/b/blob/v1/ckpt/model.pth", weights.Link("github", "a/b", "v1", "ckpt/model.pth")),
        ("https://zenodo.org/records/10519652", weights.Link("zenodo", "10519652")),
        ("https://zenodo.org/record/42/files/x.pth", weights.Link("zenodo", "42")),
        ("https://huggingface.co/timm/resnet18.a1_in1k", None),
        ("https://github.com/onlyowner", None),
        (None, None),
    ],
)
def test_parse_link(url, link):
    assert weights.parse_link(url) == link


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("model.safetensors", "safetensors"),
        ("resnet18-0477-cd27a4a1.pth.zip", "pytorch-state-dict"),
        ("ckpt.pth.tar", "pytorch-state-dict"),
        ("weights.h5", "tensorflow"),
        ("model.keras", "tensorflow"),
        ("variables.data-00000-of-00001", "tensorflow"),
        ("saved_model.pb", "tensorflow"),
        ("feats.pkl", "pickle"),
        ("checkpoints.zip", "other"),
        ("README.md", "other"),
    ],
)
def test_format_from_name(name, fmt):
    assert weight_formats.format_from_name(name) == fmt


def test_format_from_bytes():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("archive/data.pkl", b"x")
    assert weight_formats.format_from_bytes(safetensors_bytes()[:64]) == "safetensors"
    assert weight_formats.format_from_bytes(legacy_torch_bytes()[:64]) == "pytorch-state-dict"
    assert weight_formats.format_from_bytes(archive.getvalue()[:64], "model.pth") == "pytorch-state-dict"
    assert weight_formats.format_from_bytes(archive.getvalue()[:64], "model.keras") == "tensorflow"
    assert weight_formats.format_from_bytes(b"\x89HDF\r\n\x1a\n" + bytes(56)) == "tensorflow"
    assert weight_formats.format_from_bytes(pickle.dumps({"a": 1}, protocol=4)) == "pickle"
    assert weight_formats.format_from_bytes(b"<html>not weights</html>") is None


def test_links_resolve_into_weight_files(fake_hosts):
    settings = config.load()
    summary = weights.crawl(settings, [m[3] for m in MODELS], policy=FAST)
    assert (summary["links"], summary["asked"], summary["not_found"]) == (7, 7, 2)
    assert len(fake_hosts.requests_to(GITHUB + "/repos/osmr/imgclsmob/releases")) == 2  # followed the Link header
    rows = weights_catalog.build_rows(models_frame(), lake.read_raw(settings, weights.SOURCE))

    resnet = rows_for(rows, "securitynet:benchmark/imagenet/resnet18")
    assert [(r["filename"], r["matched_by"], r["format"], r["compression"], r["origin"]) for r in resnet] == [
        ("resnet18-0477-cd27a4a1.pth.zip", "name", "pytorch-state-dict", "zip", "github-release:v0.0.1")
    ]
    assert resnet[0]["size_bytes"] == 43_000_000 and resnet[0]["checksum"].startswith("sha256:")
    assert (
        rows_for(rows, "securitynet:benchmark/imagenet/mobilenet_w1")[0]["filename"]
        == "mobilenet_w1-0720-d9cd6b33.pth.zip"
    )
    bagnet = rows_for(rows, "securitynet:benchmark/imagenet/bagnet9")  # 28 weight files, none named bagnet9
    assert [(r["status"], r["filename"]) for r in bagnet] == [("ambiguous", None)]

    pgd = rows_for(rows, "securitynet:security/cifar10/pgd")
    assert [(r["filename"], r["matched_by"], r["format"], r["compression"]) for r in pgd] == [
        ("checkpoints.zip", "only_file", "other", "zip")
    ]
    assert rows_for(rows, "securitynet:security/cifar10/nonneg")[0]["status"] == "no_weight_files"
    assert rows_for(rows, "securitynet:security/cifar10/gone")[0]["status"] == "not_found"

    blood = rows_for(rows, "securitynet:benchmark/bloodmnist/r18")
    assert [(r["filename"], r["matched_by"], r["checksum"][:4]) for r in blood] == [
        ("resnet18_28_1.pth", "name", "md5:")
    ]
    path = rows_for(rows, "securitynet:benchmark/pathmnist/r50")
    assert [(r["filename"], r["matched_by"], r["format"]) for r in path] == [
        ("weights_pathmnist.zip", "dataset", "other")
    ]
    assert rows_for(rows, "securitynet:benchmark/x/deleted")[0]["status"] == "not_found"
    assert rows.filter(status="found")["format"].is_in(weight_formats.FORMATS).all()


def test_first_bytes_refine_the_format(fake_hosts):
    settings = config.load()
    weights.crawl(settings, ["https://github.com/acme/robust-vit"], sniff_bytes=True, policy=FAST)
    rows = weights_catalog.build_rows(models_frame(), lake.read_raw(settings, weights.SOURCE))
    robust = {
        r["filename"]: (r["format"], r["format_from"]) for r in rows_for(rows, "securitynet:benchmark/imagenet/robust")
    }
    assert robust == {
        "robust_vit_b16.safetensors": ("safetensors", "bytes"),
        "robust_vit_b16.pth": ("pytorch-state-dict", "bytes"),
    }
    downloads = [r for r in fake_hosts.requests if "/download/" in r.path]
    assert len(downloads) == 2 and all(r.headers["range"] == "bytes=0-63" for r in downloads)


def test_the_crawl_is_incremental_and_the_table_is_rebuilt(fake_hosts):
    settings = config.load()
    con = warehouse.connect(settings)
    frame = models_frame().with_columns(
        source=pl.lit("securitynet"), first_seen_at=lake.utcnow(), last_seen_at=lake.utcnow()
    )
    warehouse.replace_rows(con, "catalog.models", frame, "source = ?", ["securitynet"])
    con.close()
    links = weights_catalog.catalog_links(settings)
    assert len(links) == 7  # distinct URLs: models share a repository or a record
    weights.crawl(settings, links, policy=FAST)
    fake_hosts.requests.clear()
    assert weights.crawl(settings, links, policy=FAST)["asked"] == 0 and fake_hosts.requests == []
    con = warehouse.connect(settings)
    counts = weights_catalog.build_weight_files(settings, con)
    assert counts["rows"] == 11 and counts["found"] == 7 and counts["not_found"] == 2
    ((n_models,),) = con.execute("SELECT count(DISTINCT model_id) FROM catalog.weight_files").fetchall()
    assert n_models == len(MODELS)  # every linked model has a row, with a file or the reason it has none
    assert weights_catalog.build_weight_files(settings, con) == counts
    con.close()


def test_an_unreachable_public_host_is_skipped_a_configured_one_fails(fake_hosts, monkeypatch):
    dead = "http://127.0.0.1:9/zenodo/api"
    monkeypatch.setenv("SN_LAKE_ZENODO_URL", dead)
    urls = [m[3] for m in MODELS]
    with pytest.raises(weights.WeightsError, match="SN_LAKE_ZENODO_URL"):
        weights.crawl(config.load(), urls, policy=FAST)
    monkeypatch.setitem(config.PUBLIC_ENDPOINTS, "zenodo_url", dead)
    summary = weights.crawl(config.load(), urls, policy=FAST)
    assert summary["unreachable"] == ["zenodo"]
    rows = weights_catalog.build_rows(models_frame(), lake.read_raw(config.load(), weights.SOURCE))
    assert rows_for(rows, "securitynet:benchmark/bloodmnist/r18")[0]["status"] == "not_fetched"
    assert rows_for(rows, "securitynet:benchmark/imagenet/resnet18")[0]["status"] == "found"


def test_github_server_errors_are_retried(fake_hosts):
    fake_hosts.fail_next("GET", GITHUB + "/repos/PKU-ML/non_neg/releases", Response(502, "Bad Gateway"))
    fake_hosts.fail_next(
        "GET", ZENODO + "/records/10519652", Response(429, {"message": "slow down"}, {"Retry-After": "0"})
    )
    summary = weights.crawl(config.load(), [MODELS[4][3], MODELS[7][3]], policy=FAST)
    assert summary["records"] == 2 and summary["requests"] == 5


def test_github_rate_limit_on_the_public_api_skips_github_for_this_run(fake_hosts, monkeypatch):
    settings = config.load()
    monkeypatch.setitem(config.PUBLIC_ENDPOINTS, "github_url", settings.github_url)  # the fake plays the public API
    limited = Response(403, {"message": "API rate limit exceeded for 127.0.0.1."}, {"X-RateLimit-Remaining": "0"})
    fake_hosts.fail_next(
        "GET", GITHUB + "/repos/IVRL/AdversaryLossLandscape/releases", limited, limited
    )  # the probe, then the policy (403 is final)
    urls = [m[3] for m in MODELS]
    summary = weights.crawl(settings, urls, policy=FAST)
    assert summary["unreachable"] == ["github"] and "403" in summary["errors"]["github"]
    assert weights.fetched_links(settings) == {"zenodo:10519652", "zenodo:999"}  # Zenodo still answered
    assert weights.crawl(settings, urls, policy=FAST)["records"] == 5  # the next run asks the GitHub links


def test_the_github_token_goes_to_the_github_api_only(fake_hosts, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test_token_123")
    settings = config.load()
    assert "ghp_test_token_123" not in repr(settings)
    weights.crawl(settings, [MODELS[6][3], MODELS[7][3]], sniff_bytes=True, policy=FAST)
    api_calls = [r for r in fake_hosts.requests if r.path.startswith(GITHUB + "/repos/")]
    others = [r for r in fake_hosts.requests if not r.path.startswith(GITHUB + "/repos/")]
    assert api_calls and all(r.headers.get("authorization") == "Bearer ghp_test_token_123" for r in api_calls)
    assert others and all("authorization" not in r.headers for r in others)  # Zenodo and the downloads


def test_zenodo_invenio_rdm_file_entries_are_read():
    answer = {
        "status": "ok",
        "record": {
            "files": {
                "enabled": True,
                "entries": {
                    "m.safetensors": {
                        "key": "m.safetensors",
                        "size": 10,
                        "checksum": "md5:ab",
                        "links": {"content": "https://z/m/content"},
                    }
                },
            }
        },
    }
    assert weights.files_of(answer) == [
        {
            "filename": "m.safetensors",
            "url": "https://z/m/content",
            "size_bytes": 10,
            "checksum": "md5:ab",
            "origin": "zenodo",
        }
    ]
