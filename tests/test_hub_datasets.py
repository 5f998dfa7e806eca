"""Evaluation data from the Hub (sn_lake.evaluate.hub_datasets), through the loopback fake Hub only."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from fake_hub import FakeHub
from fake_hub_datasets import convert_only_repo, digits_repo, digits_uint8, gated_repo

from sn_lake import config
from sn_lake.evaluate import data, hub_datasets
from sn_lake.evaluate.hub_datasets import CONVERT_REF, DatasetUnavailable

DIGITS = "sn-lake/digits"  # a direct Hub id, as the catalog keeps it (lower case)


def resolved_shards(hub: FakeHub, repo: str) -> list[str]:
    """The shard paths the client downloaded (GET .../resolve/<rev>/<path>) in order."""
    marker = f"/datasets/{repo}/resolve/"
    return [
        r.path.split(marker, 1)[1].split("/", 1)[1]
        if not r.path.split(marker, 1)[1].startswith("refs/")
        else r.path.split(marker, 1)[1][len(CONVERT_REF) + 1 :]
        for r in hub.request_log
        if r.method == "GET" and marker in r.path
    ]


def dead_endpoint() -> str:
    """A loopback URL where nothing listens (a port just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def hub(sn_home, monkeypatch):
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def test_dataset_repo_table_is_offline_and_torch_free():
    assert hub_datasets.dataset_repo("cifar10") == "uoft-cs/cifar10"
    assert hub_datasets.dataset_repo("svhn") == "ufldl-stanford/svhn"
    assert hub_datasets.HUB_DATASETS["svhn"].config == "cropped_digits"
    assert hub_datasets.dataset_repo("bloodmnist") == "albertvillanova/medmnist-v2"
    assert hub_datasets.dataset_repo("imagenet-1k") == "ILSVRC/imagenet-1k"
    assert hub_datasets.HUB_DATASETS["imagenet-1k"].gated
    assert hub_datasets.dataset_repo("ai-lab-makerere/beans") == "AI-Lab-Makerere/beans"  # a lower-cased Hub id
    assert hub_datasets.resolve("ai-lab-makerere/beans")[0] == "beans"
    assert hub_datasets.dataset_repo("someone/my-xray-set") == "someone/my-xray-set"
    for none in ("digits", "imagefolder", "chestmnist", "not a dataset", "", None):
        assert hub_datasets.dataset_repo(none) is None, none
    probe = (
        "import sys, sn_lake.evaluate.hub_datasets as h; h.dataset_repo('cifar10'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'huggingface_hub', 'datasets')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_digits_from_the_hub_equal_the_local_digits(hub, settings):
    hub.add_dataset("sn-lake/Digits", digits_repo(train_shards=4, test_shards=2))
    splits = data.load(DIGITS, settings)
    local = data.digits()
    # the Hub copy holds round(255 x) as PNG: the loaded floats are those uint8 values / 255, so they equal the
    # local floats quantized to 8 bits exactly, and differ from the unquantized floats by at most half a step
    for ours, theirs in ((splits.train, local.train), (splits.test, local.test)):
        assert ours.x.shape == theirs.x.shape and ours.x.dtype == torch.float32
        assert torch.equal(ours.y, theirs.y)
        assert torch.equal((ours.x * 255).round().to(torch.uint8), (theirs.x * 255).round().to(torch.uint8))
        assert float((ours.x - theirs.x).abs().max()) <= 0.5 / 255 + 1e-6
    assert splits.labels == tuple("0123456789") == local.labels and splits.num_classes == 10
    assert splits.repo == "sn-lake/Digits" and splits.revision == hub.dataset("sn-lake/digits")["sha"]
    assert splits.test_split == "test"
    assert resolved_shards(hub, "sn-lake/Digits") == [f"data/train-0000{i}-of-00004.parquet" for i in range(4)] + [
        f"data/test-0000{i}-of-00002.parquet" for i in range(2)
    ]


def test_only_the_shards_needed_are_downloaded_and_the_cache_serves_offline(hub, sn_home, monkeypatch):
    hub.add_dataset(DIGITS, digits_repo(train_shards=4, test_shards=2))  # 300 train rows a shard, 299 + 298 test
    hub.tree_page_size = 3  # the listing comes in pages, as a large repo's does
    monkeypatch.setenv("SN_LAKE_EVAL_MEMBERS", "500")
    monkeypatch.setenv("SN_LAKE_EVAL_NONMEMBERS", "200")
    settings = config.load()
    first = hub_datasets.load(DIGITS, settings)
    assert resolved_shards(hub, DIGITS) == [
        "data/train-00000-of-00004.parquet",
        "data/train-00001-of-00004.parquet",
        "data/test-00000-of-00002.parquet",
    ]
    assert sum("/tree/" in r.path for r in hub.request_log) > 1  # followed the Link pages
    arrays = digits_uint8()
    assert np.array_equal(first.train_images, arrays["train"][0][:500])
    assert np.array_equal(first.train_labels, arrays["train"][1][:500])
    assert np.array_equal(first.test_images, arrays["test"][0][:200])
    assert np.array_equal(first.test_labels, arrays["test"][1][:200])
    cache = first.cache_dir
    assert cache == sn_home / "datasets" / DIGITS / first.revision / "default"
    assert sorted(p.name for p in cache.iterdir()) == ["members.arrow", "meta.json", "nonmembers.arrow"]
    assert not list((sn_home / "datasets").glob(".download-*"))  # the raw shards are not kept

    seen = len(hub.request_log)
    hub.stop()
    monkeypatch.setenv("HF_ENDPOINT", dead_endpoint())  # from here on nothing answers: the cache must do
    settings = config.load()
    again = data.load(DIGITS, settings)
    assert torch.equal(again.train.x, data._from_uint8(first.train_images, first.train_labels).x)
    assert again.labels == first.labels and again.revision == first.revision and len(again.test) == 200
    fewer = hub_datasets.load(DIGITS, settings, members=100, nonmembers=50, download=False)
    assert fewer.from_cache and np.array_equal(fewer.train_images, first.train_images[:100])
    assert len(fewer.test_labels) == 50
    assert len(hub.request_log) == seen  # the cached loads asked nothing
    with pytest.raises(DatasetUnavailable) as more:
        hub_datasets.load(DIGITS, settings, members=900, download=False)  # more than was cached
    assert more.value.reason == hub_datasets.REASON_NOT_CACHED and str(more.value).startswith("not cached offline")
    with pytest.raises(DatasetUnavailable) as offline:
        hub_datasets.load(DIGITS, settings, members=900)  # ... and the Hub is gone
    assert offline.value.reason == hub_datasets.REASON_UNREACHABLE and DIGITS in str(offline.value)


def test_a_dataset_served_only_by_the_parquet_conversion(hub, settings):
    main, branch = convert_only_repo(train_shards=2)
    hub.add_dataset("someone/script-digits", main, parquet_branch_files=branch)
    splits = hub_datasets.load("someone/script-digits", settings, members=700, nonmembers=100)
    assert splits.ref == CONVERT_REF and splits.revision != hub.dataset("someone/script-digits")["sha"]
    assert resolved_shards(hub, "someone/script-digits") == [
        "default/train/0000.parquet",
        "default/train/0001.parquet",
        "default/test/0000.parquet",
    ]
    assert any("refs/convert/parquet" in r.path and "/revision/" in r.path for r in hub.request_log)
    arrays = digits_uint8()
    assert np.array_equal(splits.train_images, arrays["train"][0][:700])
    assert np.array_equal(splits.test_labels, arrays["test"][1][:100])
    assert splits.labels == tuple("0123456789")  # from the shards' ClassLabel metadata
    assert not any(r.path.endswith("digits.py") for r in hub.request_log)  # the loading script is never fetched


def test_gated_dataset_needs_a_token_with_access(hub, settings, monkeypatch):
    hub.add_dataset("ILSVRC/imagenet-1k", gated_repo(), gated="manual", granted_tokens=("hf_granted",))
    with pytest.raises(DatasetUnavailable) as no_token:
        data.load("imagenet-1k", settings)
    assert no_token.value.reason == hub_datasets.REASON_GATED
    assert str(no_token.value).startswith("gated dataset: accept its terms and set HF_TOKEN")
    assert "401" in str(no_token.value)
    monkeypatch.setenv("HF_TOKEN", "hf_not_granted")
    with pytest.raises(DatasetUnavailable) as wrong:
        data.load("imagenet-1k", config.load())
    assert wrong.value.reason == hub_datasets.REASON_GATED and "403" in str(wrong.value)
    assert "hf_not_granted" not in str(wrong.value)
    assert resolved_shards(hub, "ILSVRC/imagenet-1k") == []  # refused before any shard
    assert [r.status for r in hub.request_log if "auth-check" in r.path] == [401, 403]

    monkeypatch.setenv("HF_TOKEN", "hf_granted")
    monkeypatch.setenv("SN_LAKE_EVAL_MEMBERS", "15")  # the first train shard holds 18
    splits = data.load("imagenet-1k", config.load())
    assert splits.test_split == "validation" and len(splits.test) == 18 and len(splits.train) == 15
    assert splits.train.x.shape[1:] == (3, 224, 224) and splits.labels == ("tench", "goldfish", "great white shark")
    assert resolved_shards(hub, "ILSVRC/imagenet-1k") == [
        "data/train-00000-of-00002.parquet",
        "data/validation-00000-of-00001.parquet",
    ]
    # each image is one colour plus noise: the decoded, resized and cropped pixels keep their class's colour
    means = splits.train.x.mean(dim=(2, 3))
    assert torch.equal(means.argmax(1), splits.train.y)


def test_a_dataset_without_a_test_split_takes_nonmembers_after_the_members(hub, settings):
    files = {k: v for k, v in digits_repo(train_shards=4).items() if "/test-" not in k and k != "README.md"}
    hub.add_dataset("someone/train-only", files)
    splits = hub_datasets.load("someone/train-only", settings, members=250, nonmembers=100)
    arrays = digits_uint8()
    assert splits.test_split == "train" and np.array_equal(splits.test_labels, arrays["train"][1][250:350])
    assert resolved_shards(hub, "someone/train-only") == [
        "data/train-00000-of-00004.parquet",
        "data/train-00001-of-00004.parquet",
    ]
    assert splits.labels == tuple("0123456789")  # no card: the names come from the Parquet metadata


def test_a_malformed_shard_is_a_clear_error(hub, settings):
    files = digits_repo(train_shards=3)
    files["data/train-00001-of-00003.parquet"] = b"PAR1 this is not a parquet file"
    hub.add_dataset("someone/broken", files)
    with pytest.raises(DatasetUnavailable) as broken:
        hub_datasets.load("someone/broken", settings, members=1000)
    message = str(broken.value)
    assert broken.value.reason == hub_datasets.REASON_MALFORMED and message.startswith("malformed parquet shard")
    assert "someone/broken@" in message and "data/train-00001-of-00003.parquet" in message
    assert not (settings.home / "datasets" / "someone" / "broken").exists()  # nothing half-written is cached


def test_missing_repo_and_torchvision_ids_offline(hub, settings):
    with pytest.raises(DatasetUnavailable) as missing:
        hub_datasets.load("nobody/nothing", settings)
    assert missing.value.reason == hub_datasets.REASON_NOT_FOUND and "nobody/nothing" in str(missing.value)
    with pytest.raises(DatasetUnavailable) as offline:
        data.load("cifar10", settings, download=False)  # no torchvision files, nothing cached, never online
    assert str(settings.home / "datasets" / "cifar10") in str(offline.value)
    assert not any("cifar10" in r.path for r in hub.request_log)
    assert os.environ["HF_ENDPOINT"] == hub.url
