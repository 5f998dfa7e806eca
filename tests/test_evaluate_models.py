"""Safe model loading (folders, raw checkpoints, the Hub through a loopback fake), devices and datasets."""

import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch
from fake_hub import FakeHub

from sn_lake import config
from sn_lake.evaluate import data, models

TINY = {
    "architecture": "resnet18",
    "num_classes": 10,
    "model_args": {"channels": [8, 8, 8, 8], "layers": [1, 1, 1, 1]},
    "pretrained_cfg": {"input_size": [3, 16, 16], "mean": [0.1, 0.2, 0.3], "std": [0.5, 0.6, 0.7], "dataset": "digits"},
}


def write_folder(folder: Path, weights: str = "model.safetensors", config_json: dict = TINY) -> torch.nn.Module:
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    torch.manual_seed(0)
    net = models.build(config_json).net
    (folder / "config.json").write_text(json.dumps(config_json))
    if weights.endswith(".safetensors"):
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / weights))
    else:
        torch.save({"state_dict": net.state_dict()}, folder / weights)
    return net


class CodePayload:
    """Unpickling this runs a shell command that creates a marker file (what a malicious checkpoint does)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


PAYLOAD_WRITERS = {
    "torch.save": lambda obj, path: torch.save(obj, path),
    "torch.save legacy": lambda obj, path: torch.save(obj, path, _use_new_zipfile_serialization=False),
    "pickle.dump": lambda obj, path: path.write_bytes(pickle.dumps(obj, protocol=4)),
}


@pytest.mark.parametrize("writer", sorted(PAYLOAD_WRITERS))
@pytest.mark.parametrize("name", ["model.pth", "model.safetensors", "pytorch_model.bin"])
def test_pickle_with_code_payload_is_refused_and_never_runs(tmp_path: Path, name: str, writer: str):
    """Whatever the file is called (even .safetensors) and however it was pickled, its code never runs."""
    folder = tmp_path / "evil"
    write_folder(folder, "model.safetensors")
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "payload-ran"
    PAYLOAD_WRITERS[writer]({"weight": torch.zeros(2), "extra": CodePayload(marker)}, folder / name)
    match = (
        "plain pickle, which can run arbitrary code" if writer == "pickle.dump" else "needs arbitrary code to unpickle"
    )
    with pytest.raises(models.UnsafeCheckpointError, match=match):
        models.load_folder(folder, torch.device("cpu"))
    assert not marker.exists(), "the checkpoint's payload ran"


def classifier_matches(loaded: models.LoadedModel, net: torch.nn.Module) -> bool:
    x = torch.rand(2, 3, 16, 16)
    mean, std = (torch.tensor(TINY["pretrained_cfg"][k]).view(1, 3, 1, 1) for k in ("mean", "std"))
    return torch.allclose(loaded.classifier(x), net.eval()((x - mean) / std), atol=1e-6)


def test_safetensors_bytes_load_whatever_the_suffix(tmp_path: Path):
    net = write_folder(tmp_path / "st", "model.safetensors")
    (tmp_path / "st" / "model.safetensors").rename(
        tmp_path / "st" / "pytorch_model.bin"
    )  # a .bin that holds safetensors
    assert classifier_matches(models.load_folder(tmp_path / "st", torch.device("cpu")), net)


def test_torch_checkpoint_named_safetensors_loads_only_through_weights_only(tmp_path: Path):
    net = write_folder(tmp_path / "pt", "model.pth")
    (tmp_path / "pt" / "model.pth").rename(tmp_path / "pt" / "model.safetensors")
    assert classifier_matches(models.load_folder(tmp_path / "pt", torch.device("cpu")), net)


def test_tensorflow_weights_are_not_a_pytorch_format(tmp_path: Path):
    hdf5 = tmp_path / "pytorch_model.bin"
    hdf5.write_bytes(
        b"\x89HDF\r\n\x1a\n" + bytes(504)
    )  # HDF5's format signature, as Keras 2 / TensorFlow .h5 files start
    with pytest.raises(
        models.ModelLoadError, match=r"TensorFlow/Keras weights \(HDF5\), which is not a PyTorch format"
    ):
        models.load_state_dict(hdf5)
    keras = tmp_path / "model.pth"  # a Keras 3 archive under a PyTorch name
    with zipfile.ZipFile(keras, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.6.0"}))
        archive.writestr("config.json", json.dumps({"class_name": "Sequential"}))
        archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(504))
    with pytest.raises(
        models.ModelLoadError, match=r"TensorFlow/Keras weights \(a Keras archive\), which is not a PyTorch format"
    ):
        models.load_state_dict(keras)


def test_unknown_bytes_are_a_clear_error(tmp_path: Path):
    text = tmp_path / "model.safetensors"
    text.write_bytes(
        b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\n"
    )  # a Git LFS pointer, not the weights
    with pytest.raises(models.ModelLoadError, match="found bytes of neither .first bytes 76657273696f6e"):
        models.load_state_dict(text)
    empty = tmp_path / "model.pth"
    empty.write_bytes(b"")
    with pytest.raises(models.ModelLoadError, match="the file is empty"):
        models.load_state_dict(empty)
    other_zip = tmp_path / "model.ckpt"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("notes.txt", "not weights")
    with pytest.raises(models.ModelLoadError, match=r"found a zip of \['notes.txt'\]: it is not a PyTorch checkpoint"):
        models.load_state_dict(other_zip)
    broken = tmp_path / "broken.bin"
    broken.write_bytes((64).to_bytes(8, "little") + b'{"w": {"dtype": "F32"')  # a safetensors header cut short
    with pytest.raises(models.ModelLoadError, match="found a broken one"):
        models.load_state_dict(broken)


def test_raw_checkpoint_of_tensors_loads_with_weights_only(tmp_path: Path):
    net = write_folder(tmp_path / "raw", "model.pth")
    assert classifier_matches(models.load_folder(tmp_path / "raw", torch.device("cpu")), net)


def test_folder_preprocessing_comes_from_the_pretrained_config(tmp_path: Path):
    write_folder(tmp_path / "net")
    loaded = models.load_folder(tmp_path / "net", torch.device("cpu"))
    assert loaded.classifier.input_size == (16, 16)
    assert loaded.classifier.mean.flatten().tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert loaded.classifier.std.flatten().tolist() == pytest.approx([0.5, 0.6, 0.7])
    assert loaded.classifier(torch.rand(3, 3, 32, 32)).shape == (3, 10)  # other sizes are resized to 16x16
    assert loaded.dataset == "digits" and loaded.model_id == "local:net" and len(loaded.revision) == 12


def test_mismatched_weights_are_a_clear_error(tmp_path: Path):
    write_folder(tmp_path / "net")
    cfg = json.loads((tmp_path / "net" / "config.json").read_text())
    cfg["model_args"]["channels"] = [16, 16, 16, 16]
    (tmp_path / "net" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(models.ModelLoadError, match="check config.json"):
        models.load_folder(tmp_path / "net", torch.device("cpu"))


def test_hub_repo_downloads_through_hf_endpoint(tmp_path: Path, settings, monkeypatch: pytest.MonkeyPatch):
    write_folder(tmp_path / "repo")
    with FakeHub([]) as hub:
        hub.add_repo("zoo-org/tiny", tmp_path / "repo")
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        loaded = models.load("huggingface:zoo-org/tiny", config.load(), torch.device("cpu"))
    assert loaded.model_id == "huggingface:zoo-org/tiny" and len(loaded.revision) == 40
    assert loaded.classifier(torch.rand(1, 3, 16, 16)).shape == (1, 10)


def test_device_follows_sn_lake_device(settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SN_LAKE_DEVICE", "cpu")
    assert models.resolve_device(config.load()).type == "cpu"
    monkeypatch.setenv("SN_LAKE_DEVICE", "auto")
    assert models.resolve_device(config.load()).type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        monkeypatch.setenv("SN_LAKE_DEVICE", "cuda")
        with pytest.raises(models.ModelLoadError, match="no CUDA device"):
            models.resolve_device(config.load())


def test_unknown_model_source_is_a_clear_error(settings):
    with pytest.raises(models.ModelLoadError, match="starting with 'local:', 'huggingface:' or 'kaggle:'"):
        models.load("modelscope:x/y", settings)
    with pytest.raises(models.ModelLoadError, match="owner/model/framework/variation, found 'x/y'"):
        models.load("kaggle:x/y", settings)
    with pytest.raises(models.ModelLoadError, match="only PyTorch weights are evaluated"):
        models.load("kaggle:keras/vit/keras/vit_base_patch16_224_imagenet", settings)  # refused before any request
    with pytest.raises(models.ModelLoadError, match="sn-lake zoo build"):
        models.load("local:not-built", settings)


def test_digits_splits_are_fixed_disjoint_and_in_range():
    a, b = data.digits(), data.digits()
    assert a.train.x.shape == (1200, 3, 32, 32) and a.test.x.shape == (597, 3, 32, 32)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert 0.0 <= float(a.train.x.min()) and float(a.train.x.max()) <= 1.0
    train_rows = {tuple(r) for r in a.train.x[:, 0, ::4, ::4].flatten(1).tolist()}
    assert (
        sum(tuple(r) in train_rows for r in a.test.x[:, 0, ::4, ::4].flatten(1).tolist()) < 5
    )  # scikit-learn has a few duplicate images
    assert set(a.train.y.tolist()) == set(range(10))


def test_unavailable_dataset_names_it_and_its_folder(settings):
    with pytest.raises(data.DatasetUnavailable, match="imagenet-1k"):
        data.load("imagenet-1k", settings)
    with pytest.raises(data.DatasetUnavailable, match=str(settings.home / "datasets" / "cifar10")):
        data.load("cifar10", settings, download=False)


# ------------------------------------------------------------------------------ Kaggle instances (kagglesdk, loopback)
@pytest.fixture
def kaggle_api(settings, monkeypatch: pytest.MonkeyPatch):
    from tests.fake_kaggle import PORT, TOKEN, FakeKaggle
    from tests.loopback_server import LoopbackServer

    api = FakeKaggle()
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")
    monkeypatch.setenv("KAGGLE_API_TOKEN", TOKEN)
    with LoopbackServer(api, port=PORT):
        yield api


def storage_requests(api) -> int:
    from tests.fake_kaggle import STORAGE

    return sum(r.path.startswith(STORAGE) for r in api.requests)


def test_kaggle_timm_instance_downloads_into_the_folder_format_once(tmp_path: Path, kaggle_api):
    net = write_folder(tmp_path / "upload" / "tiny-digits")  # the archive wraps the files in a folder
    handle = kaggle_api.serve_instance("lab", "tiny", "default", "MODEL_FRAMEWORK_PY_TORCH", tmp_path / "upload")
    loaded = models.load(f"kaggle:{handle}", config.load(), torch.device("cpu"))
    assert handle == "lab/tiny/pyTorch/default" and loaded.model_id == f"kaggle:{handle}" and loaded.revision == "1"
    assert loaded.loader == "timm" and classifier_matches(loaded, net) and storage_requests(kaggle_api) == 1
    models.load(f"kaggle:{handle}", config.load(), torch.device("cpu"))
    assert storage_requests(kaggle_api) == 1, "a downloaded instance is read from $SN_LAKE_HOME/kaggle_cache"


@pytest.mark.parametrize("archive", ["raw", "zip"])
def test_kaggle_bare_state_dict_of_a_named_timm_architecture(tmp_path: Path, kaggle_api, archive: str):
    import timm
    import torch.nn.functional as F

    torch.manual_seed(0)
    net = timm.create_model("test_resnet", pretrained=False, num_classes=10).eval()
    (tmp_path / "bare").mkdir()
    torch.save(net.state_dict(), tmp_path / "bare" / "weights.pth")  # what `torch.save(model.state_dict())` uploads
    handle = kaggle_api.serve_instance(
        "lab", "digits-nets", "test-resnet-digits", "MODEL_FRAMEWORK_PY_TORCH", tmp_path / "bare", archive=archive
    )
    loaded = models.load(f"kaggle:{handle}", config.load(), torch.device("cpu"))
    assert loaded.architecture == "test_resnet" and loaded.num_classes == 10
    cfg = timm.models.get_pretrained_cfg("test_resnet")
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (cfg.mean, cfg.std))
    x = torch.rand(2, 3, 32, 32)
    expected = net((F.interpolate(x, size=cfg.input_size[-2:], mode="bilinear", align_corners=False) - mean) / std)
    assert torch.allclose(loaded.classifier(x), expected, atol=1e-5)


def test_kaggle_architecture_named_in_the_usage_text(tmp_path: Path, kaggle_api):
    import timm
    from safetensors.torch import save_file

    net = timm.create_model("test_vit", pretrained=False, num_classes=3)
    (tmp_path / "st").mkdir()
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "st" / "model.safetensors"))
    handle = kaggle_api.serve_instance(
        "lab",
        "mystery",
        "v1",
        "MODEL_FRAMEWORK_PY_TORCH",
        tmp_path / "st",
        usage="model = timm.create_model('test_vit', num_classes=3)",
    )
    loaded = models.load(f"kaggle:{handle}", config.load(), torch.device("cpu"))
    assert loaded.architecture == "test_vit" and loaded.num_classes == 3


def test_kaggle_instances_that_cannot_be_evaluated_say_why(tmp_path: Path, kaggle_api, settings):
    import io
    import tarfile

    from tests.fake_kaggle import encode_token  # noqa: F401 - the fake's module is the one serving

    s = config.load()
    (tmp_path / "keras").mkdir()
    (tmp_path / "keras" / "model.keras").write_bytes(b"PK\x03\x04 not really")
    handle = kaggle_api.serve_instance("lab", "kmodel", "default", "MODEL_FRAMEWORK_OTHER", tmp_path / "keras")
    with pytest.raises(models.ModelLoadError, match="found a Keras model: only timm, transformers or plain timm"):
        models.load(f"kaggle:{handle}", s, torch.device("cpu"))
    (tmp_path / "anon").mkdir()
    torch.save({"w": torch.zeros(2)}, tmp_path / "anon" / "weights.pth")
    handle = kaggle_api.serve_instance("lab", "anon", "v2", "MODEL_FRAMEWORK_PY_TORCH", tmp_path / "anon")
    with pytest.raises(models.ModelLoadError, match="to name a timm architecture for its bare state dict, found none"):
        models.load(f"kaggle:{handle}", s, torch.device("cpu"))
    handle = kaggle_api.serve_instance("lab", "nofiles", "default", "MODEL_FRAMEWORK_PY_TORCH", None)
    with pytest.raises(models.ModelLoadError, match="Expected Kaggle to send the files of lab/nofiles/pyTorch/default"):
        models.load(f"kaggle:{handle}", s, torch.device("cpu"))
    with pytest.raises(models.ModelLoadError, match="found it missing"):
        models.load("kaggle:lab/tiny/pyTorch/other-variation", s, torch.device("cpu"))
    # an archive entry that climbs out of its folder is refused, and nothing lands outside
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    handle = kaggle_api.serve_instance("lab", "evil", "default", "MODEL_FRAMEWORK_PY_TORCH", None)
    kaggle_api.blobs["lab/evil/MODEL_FRAMEWORK_PY_TORCH/default/1"] = buffer.getvalue()
    with pytest.raises(models.ModelLoadError, match="Expected relative paths inside the Kaggle archive"):
        models.load(f"kaggle:{handle}", s, torch.device("cpu"))
    assert not list(settings.home.rglob("escaped.txt")) and not (settings.home.parent / "escaped.txt").exists()
