"""End to end on the public population's shapes, through a loopback Hub: a timm model and small real transformers
classifiers trained on digits (ViT, ConvNeXt, ResNet; one with a permuted id2label, one in sharded safetensors),
a dataset repo in the Hub's Parquet layout, and models that cannot be evaluated (remote code, a class transformers
does not ship, an imagefolder card, no safetensors). Crawl -> catalog -> catalog.evaluability (model by model) ->
the evaluable models (as the sensor lists them) evaluated with data read from the dataset repo -> results ->
analytics.evaluation_coverage; accuracies checked against independent computations (plain timm, and transformers'
own loader and image processor), never against sn_lake's Classifier.
"""

import json
import shutil
import sys

import pytest
import torch
from fake_hub import FakeHub
from fake_hub_datasets import digits_repo, digits_uint8
from hf_fixtures import add_to_hub, hf_models, reference_accuracy, remote_code_marker  # noqa: F401  (fixture)
from zoo_fixtures import test_zoo, zoo_settings  # noqa: F401  (fixtures)

from sn_lake import cli, config, search, warehouse

DIGITS_REPO = "sn-lake/hub-digits"  # not an alias: the catalog keeps the Hub id, the evaluation reads its shards
TIMM_REPO = "someone/digits-convnext"
HF_ORG = "hf-fixtures"
EVALUABLE_HF = ("vit", "convnext", "resnet", "vit-permuted", "resnet-sharded")
CARD_ONLY = ("convnext",)  # its dataset is in the README alone: the crawl's card pass must find it
# refused models: (reason's fixed phrase, a detail the reason must name, loader, dataset repo); the loader and the
# dataset are reported when known, so coverage can say what else a refused model would need
REFUSED = {
    "someone/needs-its-own-code": ("remote code required", "auto_map", None, DIGITS_REPO),
    "someone/leaf-photos": ("no dataset", "imagefolder", "transformers", None),
    "someone/pickle-only": ("no safetensors weights", "torch pickles are not fetched", "timm", DIGITS_REPO),
    f"{HF_ORG}/remote-code": ("remote code required", "sn_lake never runs", None, DIGITS_REPO),
    f"{HF_ORG}/unknown-architecture": ("unsupported architecture", "SuperViTForImageClassification", None, DIGITS_REPO),
}


def _timm_folder(test_zoo, tmp_path):
    """A zoo model as an outsider would publish it: timm's config.json without our training record."""
    folder = tmp_path / "timm-upload"
    shutil.copytree(test_zoo / "digits-convnext-high", folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg.pop("sn_lake", None)
    cfg["pretrained_cfg"].pop("dataset", None)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder, cfg


def _timm_accuracy(folder, cfg, x: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy with plain timm and safetensors, preprocessing written out here (not sn_lake's Classifier)."""
    import timm
    from safetensors.torch import load_file

    net = timm.create_model(
        cfg["architecture"], pretrained=False, num_classes=cfg["num_classes"], **cfg.get("model_args", {})
    )
    net.load_state_dict(load_file(str(folder / "model.safetensors")))
    net.eval()
    pre = cfg["pretrained_cfg"]
    x = torch.nn.functional.interpolate(x, size=tuple(pre["input_size"][-2:]), mode="bilinear", align_corners=False)
    x = (x - torch.tensor(pre["mean"]).view(1, 3, 1, 1)) / torch.tensor(pre["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        predicted = net(x).argmax(1)
    return float((predicted == labels).double().mean())


def _hub_pixels(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``split`` the dataset repo serves (lossless PNGs of these uint8 pixels), as [0, 1] images and labels."""
    images, labels = digits_uint8()[split]
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0, torch.from_numpy(labels)


def _serve(hub: FakeHub, timm_folder, timm_cfg, hf_models) -> dict[str, str]:
    """The dataset repo, the timm model, the transformers fixtures and the refused shapes; ``{fixture: repo id}``."""
    hub.add_dataset(DIGITS_REPO, digits_repo(train_shards=4, test_shards=2))
    common = {"pipeline_tag": "image-classification"}
    timm_listed = {"architecture": timm_cfg["architecture"], "num_classes": timm_cfg["num_classes"]}
    hub.add_repo(
        TIMM_REPO,
        timm_folder,
        library_name="timm",
        config=timm_listed,
        tags=["timm", "image-classification", f"dataset:{DIGITS_REPO}"],
        **common,
    )
    hub.add_model(
        {
            "id": "someone/needs-its-own-code",
            "library_name": "transformers",
            **common,
            "config": {"architectures": ["LeafNetForImageClassification"], "auto_map": {"AutoModel": "m.Leaf"}},
            "tags": ["transformers", "custom_code", f"dataset:{DIGITS_REPO}"],
            "safetensors": {"parameters": {"F32": 1000}, "total": 1000},
        }
    )
    hub.add_model(
        {
            "id": "someone/leaf-photos",
            "library_name": "transformers",
            **common,
            "config": {"architectures": ["ViTForImageClassification"], "model_type": "vit"},
            "cardData": {"datasets": ["imagefolder"]},
            "tags": ["transformers", "dataset:imagefolder"],
            "safetensors": {"parameters": {"F32": 1000}, "total": 1000},
        }
    )
    hub.add_model(
        {
            "id": "someone/pickle-only",
            "library_name": "timm",
            **common,
            "config": {"architecture": "resnet18", "num_classes": 10},
            "tags": ["timm", f"dataset:{DIGITS_REPO}"],
        }
    )
    return add_to_hub(hub, hf_models, org=HF_ORG, dataset=DIGITS_REPO, card_only=CARD_ONLY)


def _check_verdicts(verdicts: dict, repos: dict[str, str]) -> None:
    """catalog.evaluability model by model: the evaluable ones with their loader and data, the others' reasons."""
    assert verdicts[f"huggingface:{TIMM_REPO}"] == (True, None, "timm", DIGITS_REPO)
    for name in EVALUABLE_HF:
        assert verdicts[f"huggingface:{repos[name]}"] == (True, None, "transformers", DIGITS_REPO), name
    for repo, (kind, detail, loader, dataset_repo) in REFUSED.items():
        evaluable, reason, *found = verdicts[f"huggingface:{repo}"]
        assert not evaluable and reason.startswith(f"{kind}:") and detail in reason, (repo, reason)
        assert found == [loader, dataset_repo], (repo, found)
    assert len(verdicts) == 1 + len(EVALUABLE_HF) + len(REFUSED), sorted(verdicts)


@pytest.mark.slow
def test_public_shapes_are_crawled_judged_evaluated_and_counted(
    zoo_settings, test_zoo, hf_models, tmp_path, monkeypatch
):
    torch.set_num_threads(1)  # the machine's cores are shared: one thread wastes no time spinning
    timm_folder, timm_cfg = _timm_folder(test_zoo, tmp_path)
    marker = remote_code_marker(hf_models["vit"].parent)
    with FakeHub([]) as hub:
        repos = _serve(hub, timm_folder, timm_cfg, hf_models)
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert cli.materialize("key:raw_huggingface or key:catalog_models or key:catalog_evaluability")
        settings = config.load()
        con = warehouse.connect(settings, read_only=True)
        verdicts = {
            m: (e, r, loader, repo)
            for m, e, r, loader, repo in con.execute(
                "SELECT model_id, evaluable, reason, loader, dataset_repo FROM catalog.evaluability "
                "WHERE model_id LIKE 'huggingface:%'"
            ).fetchall()
        }
        queued = search.evaluable_models(con)  # what the new_evaluable_models sensor would send
        con.close()
        _check_verdicts(verdicts, repos)
        expected = {f"huggingface:{TIMM_REPO}", *(f"huggingface:{repos[n]}" for n in EVALUABLE_HF)}
        assert set(queued) == expected
        assert set(cli.not_evaluable(settings, sorted(verdicts))) == {f"huggingface:{r}" for r in REFUSED}

        assert cli.evaluate_models(queued, ["task_accuracy"]), "a model the rule admitted failed to evaluate"
        paths = [r.path for r in hub.request_log]
    assert any(p.startswith(f"/datasets/{DIGITS_REPO}/resolve/") and p.endswith(".parquet") for p in paths), (
        "the evaluation did not read the dataset repo"
    )
    assert any(p.startswith(f"/{repos['convnext']}/resolve/") and p.endswith("/README.md") for p in paths), (
        "the card pass did not read the card that alone declares the dataset"
    )
    assert not [p for p in paths if p.endswith(".py")], "a repo's code was downloaded"
    assert not marker.exists() and not {"modeling_leaf", "configuration_leaf"} & set(sys.modules), "remote code ran"

    con = warehouse.connect(settings, read_only=True)
    measured = {
        m: (train, test, n_train, n_test)
        for m, train, test, n_train, n_test in con.execute(
            "SELECT model_id, train_accuracy, test_accuracy, n_train, n_test FROM results.task_accuracy "
            "WHERE origin = 'computed' AND dataset = ?",
            [DIGITS_REPO],
        ).fetchall()
    }
    coverage = {
        (library, dataset): counts
        for library, dataset, *counts in con.execute(
            "SELECT library, dataset, n_models, n_evaluable, n_evaluated, n_failed, top_reason "
            "FROM analytics.evaluation_coverage WHERE source = 'huggingface'"
        ).fetchall()
    }
    con.close()
    assert set(measured) == expected
    (train_x, train_y), (test_x, test_y) = _hub_pixels("train"), _hub_pixels("test")
    assert all(row[2:] == (len(train_y), len(test_y)) for row in measured.values()), measured
    train, test, _, _ = measured[f"huggingface:{TIMM_REPO}"]
    assert test == pytest.approx(_timm_accuracy(timm_folder, timm_cfg, test_x, test_y), abs=1e-9)
    assert train == pytest.approx(_timm_accuracy(timm_folder, timm_cfg, train_x, train_y), abs=1e-9)
    for name in EVALUABLE_HF:
        train, test, _, _ = measured[f"huggingface:{repos[name]}"]
        assert test == pytest.approx(reference_accuracy(hf_models[name], (test_x, test_y)), abs=1e-9), name
        assert train == pytest.approx(reference_accuracy(hf_models[name], (train_x, train_y)), abs=1e-9), name
        assert test > 0.8, f"{name} did not learn digits: the comparison would say little"
    # the permuted model is the same network with its classes reordered: aligned, it scores exactly the same
    assert measured[f"huggingface:{repos['vit-permuted']}"][:2] == measured[f"huggingface:{repos['vit']}"][:2]
    assert measured[f"huggingface:{repos['resnet-sharded']}"][:2] == measured[f"huggingface:{repos['resnet']}"][:2]

    assert coverage[("timm", DIGITS_REPO)] == [2, 1, 1, 0, "no safetensors weights"]
    # 7 fixtures and needs-its-own-code: 5 evaluable and evaluated; 2 remote code, 1 unsupported architecture
    assert coverage[("transformers", DIGITS_REPO)] == [8, 5, 5, 0, "remote code required"]
    assert coverage[("transformers", None)] == [1, 0, 0, 0, "no dataset"]
