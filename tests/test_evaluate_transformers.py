"""transformers image classifiers: built from their config by a shipped class, weights from safetensors, the
processor's resize and normalisation inside Classifier, labels aligned with the dataset, remote code refused."""

import json
import shutil

import pytest
import torch

from hf_fixtures import build_transformers_model, permuted, remote_code, sharded
from sn_lake.evaluate import data, labels, models


@pytest.fixture(scope="session")
def hf_root(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "hf-models"


def _independent_accuracy(folder) -> float:
    """Plain transformers forward with the processor's statistics applied by hand."""
    from transformers import AutoModelForImageClassification

    net = AutoModelForImageClassification.from_pretrained(str(folder), use_safetensors=True).eval()
    pre = json.loads((folder / "preprocessor_config.json").read_text())
    test = data.digits().test
    x = (test.x - torch.tensor(pre["image_mean"]).view(1, 3, 1, 1)) / torch.tensor(pre["image_std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        return float((net(pixel_values=x).logits.argmax(1) == test.y).float().mean())


def _accuracy(loaded) -> float:
    test = data.digits().test
    with torch.no_grad():
        return float((loaded.classifier(test.x).argmax(1) == test.y).float().mean())


@pytest.mark.parametrize("kind", ["vit", "convnext", "resnet"])
def test_transformers_models_load_and_match_an_independent_forward(hf_root, kind):
    folder = build_transformers_model(hf_root, kind)
    loaded = models.load_folder(folder, torch.device("cpu"))
    assert loaded.loader == "transformers" and loaded.labels == [str(i) for i in range(10)]
    accuracy = _accuracy(loaded)
    assert accuracy == pytest.approx(_independent_accuracy(folder), abs=1e-9)
    assert accuracy > 0.5, "the fixture did not learn digits"


def test_a_permuted_id2label_is_aligned_and_never_silently_wrong(hf_root, tmp_path):
    original = build_transformers_model(hf_root, "vit")
    order = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]
    folder = permuted(original, tmp_path / "permuted", order)
    loaded = models.load_folder(folder, torch.device("cpu"))
    unaligned = _accuracy(loaded)
    found = labels.align(loaded.labels, [str(i) for i in range(10)], 10, 10)
    loaded.classifier.label_order = torch.tensor(found)
    reference = models.load_folder(original, torch.device("cpu"))
    assert _accuracy(loaded) == pytest.approx(_accuracy(reference), abs=1e-9)
    assert unaligned < 0.5 * _accuracy(reference)


def test_labels_that_cannot_be_aligned_are_refused():
    with pytest.raises(labels.LabelMismatch, match="cannot be aligned"):
        labels.align(["cat", "dog"], ["angular_leaf_spot", "bean_rust"], 2, 2)
    with pytest.raises(labels.LabelMismatch, match="counts"):
        labels.align(None, None, 1000, 10)
    assert labels.align(["LABEL_0", "LABEL_1"], ["a", "b"], 2, 2) is None
    assert labels.align(["Bean Rust", "healthy"], ["healthy", "bean_rust"], 2, 2) == [1, 0]


def test_sharded_safetensors_load(hf_root, tmp_path):
    folder = sharded(build_transformers_model(hf_root, "resnet"), tmp_path / "sharded")
    assert (folder / "model.safetensors.index.json").is_file() and not (folder / "model.safetensors").exists()
    loaded = models.load_folder(folder, torch.device("cpu"))
    assert _accuracy(loaded) == pytest.approx(_independent_accuracy(folder), abs=1e-9)


def test_remote_code_is_refused_and_never_imported(hf_root, tmp_path):
    marker = tmp_path / "ran.txt"
    folder = remote_code(build_transformers_model(hf_root, "vit"), tmp_path / "remote", marker)
    with pytest.raises(models.ModelLoadError, match="auto_map"):
        models.load_folder(folder, torch.device("cpu"))
    assert not marker.exists()


def _timm_folder(tmp_path, **changes):
    import timm
    from safetensors.torch import save_file

    folder = tmp_path / "timm"
    folder.mkdir()
    net = timm.create_model("resnet18", pretrained=False, num_classes=10, channels=[8, 8, 8, 8], layers=[1, 1, 1, 1])
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "model.safetensors"))
    config = {"architecture": "resnet18", "num_classes": 10, "model_args": {"channels": [8, 8, 8, 8], "layers": [1, 1, 1, 1]},
              "pretrained_cfg": {"input_size": [3, 32, 32], "mean": [0.5] * 3, "std": [0.5] * 3}, **changes}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"architecture": "hf-hub:other/repo"}, "timm architecture name"),
        ({"architecture": "local-dir:/etc"}, "timm architecture name"),
        ({"num_classes": 4_000_000}, "between 1 and 1,000,000"),
        ({"num_classes": 7}, "classifier head of 7"),
        ({"model_args": {"checkpoint_path": "{secret}"}}, "plain model_args"),
        ({"model_args": {"pretrained_cfg_overlay": {"file": "{secret}"}}}, "plain model_args"),
    ],
)
def test_config_json_is_not_trusted(tmp_path, changes, match):
    secret = tmp_path / "secret.pth"
    secret.write_bytes(b"never read")
    changes = json.loads(json.dumps(changes).replace("{secret}", str(secret)))
    folder = _timm_folder(tmp_path, **changes)
    before = secret.stat().st_atime_ns
    with pytest.raises(models.ModelLoadError, match=match):
        models.load_folder(folder, torch.device("cpu"))
    assert secret.stat().st_atime_ns == before


def test_parameter_budget_and_non_json_config(tmp_path, settings, monkeypatch):
    folder = _timm_folder(tmp_path)
    monkeypatch.setenv("SN_LAKE_MAX_PARAMETERS", "1000")
    from sn_lake import config

    with pytest.raises(models.ModelLoadError, match="SN_LAKE_MAX_PARAMETERS"):
        models.load_folder(folder, torch.device("cpu"), settings=config.load())
    (folder / "config.json").write_text("{not json")
    with pytest.raises(models.ModelLoadError, match="Expected JSON"):
        models.load_folder(folder, torch.device("cpu"))
    shutil.rmtree(folder)
