"""End to end on the public population's shapes: a loopback Hub serves a timm model and a transformers model
trained on digits, a dataset repo in the Hub's Parquet layout, and models that cannot be evaluated (remote code,
an imagefolder card, no safetensors). Crawl -> catalog -> catalog.evaluability -> evaluation (data read from the
dataset repo) -> results -> analytics.evaluation_coverage; accuracies checked against an independent computation.
"""

import json
import shutil

import numpy as np
import pytest
import torch

from fake_hub import FakeHub
from fake_hub_datasets import digits_repo, digits_uint8
from sn_lake import cli, config, warehouse
from zoo_fixtures import test_zoo, zoo_settings  # noqa: F401  (fixtures)

DIGITS_REPO = "sn-lake/hub-digits"  # not an alias: the catalog keeps the Hub id, the evaluation reads its shards
TIMM_REPO = "someone/digits-convnext"
REFUSED = {
    "someone/needs-its-own-code": "remote code required",
    "someone/leaf-photos": "no dataset",
    "someone/pickle-only": "no safetensors weights",
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


def _independent_accuracy(folder, cfg, images: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy with plain timm and safetensors, preprocessing written out here (not sn_lake's Classifier)."""
    import timm
    from safetensors.torch import load_file

    net = timm.create_model(cfg["architecture"], pretrained=False, num_classes=cfg["num_classes"], **cfg.get("model_args", {}))
    net.load_state_dict(load_file(str(folder / "model.safetensors")))
    net.eval()
    pre = cfg["pretrained_cfg"]
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    x = torch.nn.functional.interpolate(x, size=tuple(pre["input_size"][-2:]), mode="bilinear", align_corners=False)
    x = (x - torch.tensor(pre["mean"]).view(1, 3, 1, 1)) / torch.tensor(pre["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        predicted = net(x).argmax(1).numpy()
    return float((predicted == labels).mean())


@pytest.mark.slow
def test_public_shapes_are_crawled_judged_evaluated_and_counted(zoo_settings, test_zoo, tmp_path, monkeypatch):
    folder, cfg = _timm_folder(test_zoo, tmp_path)
    with FakeHub([]) as hub:
        hub.add_dataset(DIGITS_REPO, digits_repo(train_shards=4, test_shards=2))
        common = {"pipeline_tag": "image-classification"}
        hub.add_repo(TIMM_REPO, folder, library_name="timm", config={"architecture": cfg["architecture"],
                     "num_classes": cfg["num_classes"]}, tags=["timm", "image-classification", f"dataset:{DIGITS_REPO}"],
                     **common)  # fmt: skip
        hub.add_model({"id": "someone/needs-its-own-code", "library_name": "transformers", **common,
                       "config": {"architectures": ["LeafNetForImageClassification"], "auto_map": {"AutoModel": "m.Leaf"}},
                       "tags": ["transformers", "custom_code", f"dataset:{DIGITS_REPO}"],
                       "safetensors": {"parameters": {"F32": 1000}, "total": 1000}})
        hub.add_model({"id": "someone/leaf-photos", "library_name": "transformers", **common,
                       "config": {"architectures": ["ViTForImageClassification"], "model_type": "vit"},
                       "cardData": {"datasets": ["imagefolder"]}, "tags": ["transformers", "dataset:imagefolder"],
                       "safetensors": {"parameters": {"F32": 1000}, "total": 1000}})
        hub.add_model({"id": "someone/pickle-only", "library_name": "timm", **common,
                       "config": {"architecture": "resnet18", "num_classes": 10}, "tags": ["timm", f"dataset:{DIGITS_REPO}"]})
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert cli.materialize("key:raw_huggingface or key:catalog_models or key:catalog_evaluability")
        settings = config.load()
        con = warehouse.connect(settings, read_only=True)
        verdicts = {m: (e, r, loader, repo) for m, e, r, loader, repo in con.execute(
            "SELECT model_id, evaluable, reason, loader, dataset_repo FROM catalog.evaluability "
            "WHERE model_id LIKE 'huggingface:%'").fetchall()}
        con.close()
        assert verdicts[f"huggingface:{TIMM_REPO}"] == (True, None, "timm", DIGITS_REPO)
        for repo, kind in REFUSED.items():
            evaluable, reason, _, _ = verdicts[f"huggingface:{repo}"]
            assert not evaluable and reason.startswith(kind), (repo, reason)

        evaluable = sorted(m for m, v in verdicts.items() if v[0])
        assert cli.evaluate_models(evaluable, ["task_accuracy"])
        shards = [r.path for r in hub.request_log if r.path.startswith(f"/datasets/{DIGITS_REPO}/resolve/")]
        assert any(p.endswith(".parquet") for p in shards), "the evaluation did not read the dataset repo"

    con = warehouse.connect(settings, read_only=True)
    measured = dict(con.execute("SELECT model_id, test_accuracy FROM results.task_accuracy WHERE origin = 'computed'").fetchall())
    test_images, test_labels = digits_uint8()["test"]
    assert measured[f"huggingface:{TIMM_REPO}"] == pytest.approx(_independent_accuracy(folder, cfg, test_images, test_labels),
                                                                  abs=1e-9)
    coverage = con.execute("SELECT n_models, n_evaluable, n_evaluated, n_failed FROM analytics.evaluation_coverage "
                           "WHERE source = 'huggingface' AND library = 'timm' AND dataset = ?", [DIGITS_REPO]).fetchone()
    assert coverage == (2, 1, 1, 0)
    con.close()
