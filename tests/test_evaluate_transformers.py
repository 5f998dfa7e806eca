"""transformers image classifiers: built from their config by a shipped class, weights from safetensors, the
processor's resize, crop and normalisation inside Classifier, labels aligned with the dataset, remote code refused;
and config.json trusted in nothing (timm and transformers), checked against the safetensors header before any build."""

import json
import os
import resource
import sys
import threading
import time

import pytest
import torch
from fake_hub import FakeHub
from hf_fixtures import PERMUTATION, add_to_hub, hf_models, reference_accuracy, remote_code_marker  # noqa: F401

from sn_lake import config
from sn_lake.evaluate import data, labels, models, pipeline

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)  # the machine's cores are shared: one thread wastes no time spinning


def accuracy(loaded) -> float:
    test = data.digits().test
    with torch.no_grad():
        return int((loaded.classifier(test.x).argmax(1) == test.y).sum()) / len(test.y)  # exact: a count of hits


@pytest.mark.parametrize("kind", ["vit", "convnext", "resnet"])
def test_transformers_models_load_and_agree_with_transformers_own_loader_and_processor(hf_models, kind):
    loaded = models.load_folder(hf_models[kind], CPU)
    assert loaded.loader == "transformers" and loaded.labels == [str(i) for i in range(10)] and loaded.num_classes == 10
    assert (
        loaded.architecture
        == {
            "vit": "ViTForImageClassification",
            "convnext": "ConvNextForImageClassification",
            "resnet": "ResNetForImageClassification",
        }[kind]
    )
    measured = accuracy(loaded)
    assert measured == pytest.approx(reference_accuracy(hf_models[kind]), abs=1e-9)
    assert measured > 0.8, "the fixture did not learn digits"
    x = data.digits().test.x[:5].clone().requires_grad_(True)
    out = loaded.classifier(x)
    assert isinstance(out, torch.Tensor) and out.shape == (5, 10)  # plain logits, not an output object
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # attacks get gradients in [0, 1] pixel space


def test_resnet_preprocessing_by_hand(hf_models):
    """crop_pct 0.875 of 28: resize the short side to 32 (the digits' own size), center-crop 28, normalise; numpy."""
    import numpy as np
    from transformers import ResNetForImageClassification

    folder = hf_models["resnet"]
    pre = json.loads((folder / "preprocessor_config.json").read_text())
    test = data.digits().test
    pixels = test.x.numpy()[:, :, 2:30, 2:30] * 255.0 * pre["rescale_factor"]
    pixels = (pixels - np.array(pre["image_mean"]).reshape(1, 3, 1, 1)) / np.array(pre["image_std"]).reshape(1, 3, 1, 1)
    net = ResNetForImageClassification.from_pretrained(str(folder), use_safetensors=True).eval()
    with torch.no_grad():
        by_hand = net(pixel_values=torch.from_numpy(pixels).float()).logits
        ours = models.load_folder(folder, CPU).classifier(test.x)
    assert torch.allclose(ours, by_hand, atol=1e-4)


def test_a_permuted_id2label_is_aligned_and_never_silently_wrong(hf_models):
    loaded = models.load_folder(hf_models["vit-permuted"], CPU)
    assert loaded.labels == [str(d) for d in PERMUTATION]
    unaligned = accuracy(loaded)
    order = models.align_labels(loaded, data.digits())
    assert order == [PERMUTATION.index(d) for d in range(10)]
    aligned = accuracy(loaded)
    assert aligned == pytest.approx(reference_accuracy(hf_models["vit-permuted"]), abs=1e-9)
    assert aligned == pytest.approx(accuracy(models.load_folder(hf_models["vit"], CPU)), abs=1e-9)
    assert unaligned < 0.5 * aligned


def test_the_pipeline_aligns_labels_before_it_measures(hf_models, settings):
    loaded = models.load_folder(hf_models["vit-permuted"], CPU)
    summary = pipeline.run_family(settings, "local:vit-permuted", "task_accuracy", loaded=loaded, dataset="digits")
    row = summary["frame"].row(0, named=True)
    assert row["test_accuracy"] == pytest.approx(reference_accuracy(hf_models["vit-permuted"]), abs=1e-6)
    assert row["test_accuracy"] > 0.8


def test_labels_that_cannot_be_aligned_are_not_evaluated(hf_models, settings):
    digits = data.digits()
    pets = data.DatasetSplits("pets", digits.train, digits.test, 10, labels=tuple(f"breed {c}" for c in "abcdefghij"))
    with pytest.raises(labels.LabelMismatch, match="cannot be aligned"):
        models.align_labels(models.load_folder(hf_models["vit-permuted"], CPU), pets)
    with pytest.raises(labels.LabelMismatch, match="different counts"):
        models.align_labels(
            models.load_folder(hf_models["vit"], CPU), data.DatasetSplits("x", digits.train, digits.test, 2)
        )
    loaded = models.load_folder(hf_models["vit"], CPU)  # "0".."9" in order say nothing but the index: trusted
    assert models.align_labels(loaded, pets) is None and loaded.classifier.label_order is None
    assert isinstance(labels.LabelMismatch("x"), models.ModelLoadError)


def test_sharded_safetensors_load(hf_models):
    folder = hf_models["resnet-sharded"]
    assert (folder / "model.safetensors.index.json").is_file() and not (folder / "model.safetensors").exists()
    assert len(list(folder.glob("*.safetensors"))) > 1
    loaded = models.load_folder(folder, CPU)
    assert accuracy(loaded) == pytest.approx(reference_accuracy(hf_models["resnet"]), abs=1e-9)


def test_remote_code_is_refused_and_never_imported(hf_models):
    with pytest.raises(models.ModelLoadError, match="auto_map"):
        models.load_folder(hf_models["remote-code"], CPU)
    with pytest.raises(models.UntrustedConfigError, match="not a class transformers ships"):
        models.load_folder(hf_models["unknown-architecture"], CPU)
    assert not remote_code_marker(hf_models["vit"].parent).exists()
    assert not {"modeling_leaf", "configuration_leaf"} & set(sys.modules)


def test_every_fixture_through_the_fake_hub(hf_models, settings, monkeypatch):
    with FakeHub([]) as hub:
        repos = add_to_hub(hub, hf_models)
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        s = config.load()
        for name in ("vit", "convnext", "resnet", "resnet-sharded", "vit-permuted"):
            loaded = models.load(f"huggingface:{repos[name]}", s, CPU)
            assert loaded.loader == "transformers" and len(loaded.revision) == 40
            if name == "vit-permuted":
                models.align_labels(loaded, data.digits())
            assert accuracy(loaded) == pytest.approx(reference_accuracy(hf_models[name]), abs=1e-9), name
        for name, match in (("remote-code", "auto_map"), ("unknown-architecture", "not a class transformers ships")):
            with pytest.raises(models.ModelLoadError, match=match):
                models.load(f"huggingface:{repos[name]}", s, CPU)
        py_files = [r.path for r in hub.request_log if r.path.endswith(".py")]
    assert not py_files, "the repo's code was downloaded"
    assert not remote_code_marker(hf_models["vit"].parent).exists()
    with pytest.raises(models.ModelLoadError, match="download the Hub repo 'hf-fixtures/absent'.*HF_ENDPOINT"):
        models.load("huggingface:hf-fixtures/absent", config.load(), CPU)  # the Hub is gone: a reason, not a traceback


def test_inspect_folder_checks_without_building(hf_models):
    folder = hf_models["vit"]
    fmt = models.inspect_folder(folder)
    assert (
        fmt.loader == "transformers"
        and fmt.num_classes == 10
        and fmt.num_parameters
        == sum(p.numel() for p in models.load_folder(folder, CPU).classifier.net.state_dict().values())
    )


def test_preprocessing_matches_the_real_image_processor():
    """Resizes the fixtures do not exercise (downscaling, non-square, bicubic, cropping a larger image) against
    transformers' own processors, on random images."""
    import transformers as tf

    x = torch.rand(3, 3, 37, 53)
    cases = [
        ("vit", tf.ViTImageProcessor(size={"height": 20, "width": 24}, resample=3)),
        ("convnext", tf.ConvNextImageProcessor(size={"shortest_edge": 24}, crop_pct=0.8)),
        ("convnext", tf.ConvNextImageProcessor(size={"shortest_edge": 400})),
        ("bit", tf.BitImageProcessor(size={"shortest_edge": 30}, crop_size={"height": 28, "width": 28})),
        ("deit", tf.DeiTImageProcessor(size={"height": 32, "width": 32}, crop_size={"height": 40, "width": 40})),
        ("swin", tf.ViTImageProcessor(do_normalize=False, size={"height": 16, "width": 16}, resample=0)),
    ]
    for model_type, processor in cases:
        prep = models.hf_preprocessing(processor.to_dict(), model_type)
        ours = models.Classifier(torch.nn.Identity(), prep.input_size, prep.mean, prep.std, prep)(x)
        theirs = processor(images=x * 255.0, return_tensors="pt")["pixel_values"]
        assert ours.shape == theirs.shape and torch.allclose(ours, theirs, atol=2e-4), (
            type(processor).__name__,
            processor.size,
        )


def test_processors_whose_steps_are_not_reproduced_are_refused():
    import transformers as tf

    with pytest.raises(models.ModelLoadError, match="not reproduced"):
        models.hf_preprocessing(tf.EfficientNetImageProcessor().to_dict(), "efficientnet")
    with pytest.raises(models.UntrustedConfigError, match="custom code is never run"):
        models.hf_preprocessing({"image_processor_type": "LeafImageProcessor"}, "vit")
    with pytest.raises(models.UntrustedConfigError, match="auto_map"):
        models.hf_preprocessing({"auto_map": {"AutoImageProcessor": "x.Y"}}, "vit")
    prep = models.hf_preprocessing({}, "vit")  # no keys: ViTImageProcessor's defaults, as AutoImageProcessor reads them
    assert prep.resize == (224, 224) and prep.mean == pytest.approx((0.5,) * 3)


# --------------------------------------------------------------------------------------------- hostile configs
class OpenWatch:
    """A FIFO at ``path`` that notices whether anything ever opens it for reading (then gives the reader EOF)."""

    def __init__(self, path):
        os.mkfifo(path)
        self.path, self.opened, self._stop = path, False, False
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self):
        while not self._stop:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)  # succeeds only while someone opens it to read
            except OSError:
                time.sleep(0.002)
                continue
            self.opened = True
            os.close(fd)

    def close(self):
        self._stop = True
        self.thread.join()


def test_the_open_watch_sees_a_reader(tmp_path):
    watch = OpenWatch(tmp_path / "probe")
    with open(watch.path, "rb") as fh:
        assert fh.read() == b""
    watch.close()
    assert watch.opened


def timm_folder(tmp_path, **changes):
    import timm
    from safetensors.torch import save_file

    folder = tmp_path / "timm"
    folder.mkdir()
    torch.manual_seed(0)
    net = timm.create_model("resnet18", pretrained=False, num_classes=10, channels=[8, 8, 8, 8], layers=[1, 1, 1, 1])
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "model.safetensors"))
    cfg = {
        "architecture": "resnet18",
        "num_classes": 10,
        "model_args": {"channels": [8, 8, 8, 8], "layers": [1, 1, 1, 1]},
        "pretrained_cfg": {"input_size": [3, 32, 32], "mean": [0.5] * 3, "std": [0.5] * 3},
        **changes,
    }
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def header_only(path, shapes: dict) -> None:
    """A safetensors file that is all header: it claims ``shapes`` and holds no tensor bytes."""
    header = json.dumps(
        {k: {"dtype": "F32", "shape": list(s), "data_offsets": [0, 0]} for k, s in shapes.items()}
    ).encode()
    path.write_bytes(len(header).to_bytes(8, "little") + header)


def peak_rss_growth_mb(fn) -> float:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"architecture": "hf-hub:other/repo"}, "plain timm architecture name"),
        ({"architecture": "local-dir:{fifo_dir}"}, "plain timm architecture name"),
        ({"architecture": "{fifo}"}, "plain timm architecture name"),
        ({"architecture": "resnet18_but_not_in_timm"}, "unknown to timm"),
        ({"model_args": {"checkpoint_path": "{fifo}"}}, "plain model_args"),
        ({"model_args": {"pretrained_cfg_overlay": {"file": "{fifo}"}}}, "plain model_args"),
        ({"model_args": {"pretrained": True}}, "plain model_args"),
        ({"model_args": {"act_layer": "{fifo}"}}, "could be a path or URL"),
        ({"model_args": {"norm_layer": "https://example.org/x.py"}}, "could be a path or URL"),
        ({"num_classes": 4_000_000}, "between 1 and 1,000,000"),
        ({"num_classes": True}, "between 1 and 1,000,000"),
        ({"num_classes": 7}, "classifier head of 7"),
        ({"auto_map": {"AutoModel": "x.Y"}}, "auto_map"),
    ],
)
def test_timm_config_json_is_not_trusted(tmp_path, changes, match):
    fifo_dir = tmp_path / "elsewhere"
    fifo_dir.mkdir()
    watch = OpenWatch(fifo_dir / "config.json")
    changes = json.loads(json.dumps(changes).replace("{fifo}", str(watch.path)).replace("{fifo_dir}", str(fifo_dir)))
    folder = timm_folder(tmp_path, **changes)
    try:
        with pytest.raises(models.UntrustedConfigError if "head" not in match else models.ModelLoadError, match=match):
            models.load_folder(folder, CPU)
    finally:
        watch.close()
    assert not watch.opened, "a path from config.json was opened"


def test_a_huge_head_is_refused_from_the_header_before_anything_is_built(tmp_path):
    """A million-class resnet18 head would take 2 GB: the header (10 classes) refuses it with nothing allocated."""
    import timm

    folder = tmp_path / "huge"
    folder.mkdir()
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in timm.create_model("resnet18", num_classes=10).state_dict().items()}
    header_only(folder / "model.safetensors", shapes)
    (folder / "config.json").write_text(json.dumps({"architecture": "resnet18", "num_classes": 1_000_000}))

    def refuse():
        with pytest.raises(
            models.ModelLoadError, match=r"classifier head of 1000000 outputs \(fc.weight\).*\[10, 512\]"
        ):
            models.load_folder(folder, CPU)

    assert peak_rss_growth_mb(refuse) < 500


def test_the_parameter_budget_is_read_from_the_header_alone(tmp_path, settings, monkeypatch):
    folder = timm_folder(tmp_path)
    n = models.count_parameters(models.safetensors_header(folder / "model.safetensors"))
    monkeypatch.setenv("SN_LAKE_MAX_PARAMETERS", str(n - 1))
    with pytest.raises(
        models.ModelLoadError, match=f"at most {n - 1:,} parameters .SN_LAKE_MAX_PARAMETERS., found {n:,}"
    ):
        models.load_folder(folder, CPU, settings=config.load())
    header_only(folder / "model.safetensors", {"w": (200_000, 10_000)})  # 2e9 parameters claimed, no bytes behind them
    with pytest.raises(models.ModelLoadError, match="found 2,000,000,000 in model.safetensors"):
        models.load_folder(folder, CPU)
    monkeypatch.setenv("SN_LAKE_MAX_PARAMETERS", "1000")
    with pytest.raises(models.ModelLoadError, match="SN_LAKE_MAX_PARAMETERS"):
        models.load_folder(folder, CPU, settings=config.load())


@pytest.mark.parametrize(
    ("text", "match"),
    [("{not json", "Expected JSON"), ("[1, 2]", "JSON object"), ('"resnet18"', "JSON object"), ("", "Expected JSON")],
)
def test_a_config_that_is_not_a_json_object_is_a_clear_error(tmp_path, text, match):
    folder = timm_folder(tmp_path)
    (folder / "config.json").write_text(text)
    with pytest.raises(models.ModelLoadError, match=match):
        models.load_folder(folder, CPU)


def hf_folder(tmp_path, hf_models, **changes):
    import shutil

    folder = tmp_path / "hf"
    shutil.copytree(hf_models["vit"], folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(changes)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"id2label": {str(i): str(i) for i in range(11)}}, r"classifier head of 11 outputs \(classifier.weight\)"),
        ({"id2label": {"0": "a", "2": "b"}}, "id2label keys"),
        ({"architectures": ["ViTForImageClassification", "ViTModel"]}, "exactly one class"),
        ({"architectures": ["ViTModel"]}, "not an image classifier"),
        ({"architectures": ["../../modeling_leaf.Leaf"]}, "custom code is never run"),
        ({"model_type": "convnext"}, "contradicts itself"),
        ({"model_type": "leafnet"}, "model_type"),
        ({"use_pretrained_backbone": True}, "use_pretrained_backbone"),
        ({"quantization_config": {"quant_method": "bitsandbytes"}}, "quantization_config"),
        ({"vision_config": {"auto_map": {"AutoConfig": "x.Y"}}}, "auto_map"),
    ],
)
def test_transformers_config_json_is_not_trusted(tmp_path, hf_models, changes, match):
    with pytest.raises(models.ModelLoadError, match=match):
        models.load_folder(hf_folder(tmp_path, hf_models, **changes), CPU)


def test_a_config_that_would_build_a_huge_network_is_compared_on_the_meta_device_first(tmp_path, hf_models):
    """hidden_size 8192 would allocate 2 GB for a 80k-parameter checkpoint: the meta build finds the mismatch first."""
    folder = hf_folder(tmp_path, hf_models, hidden_size=8192, intermediate_size=128)

    def refuse():
        with pytest.raises(models.ModelLoadError, match="differently shaped tensors"):
            models.load_folder(folder, CPU)

    assert peak_rss_growth_mb(refuse) < 500


def test_a_transformers_checkpoint_that_is_not_safetensors_is_refused(tmp_path, hf_models):
    from safetensors.torch import load_file

    folder = hf_folder(tmp_path, hf_models)
    torch.save(load_file(str(folder / "model.safetensors")), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(models.ModelLoadError, match="ask for safetensors weights"):
        models.load_folder(folder, CPU)
    (folder / "pytorch_model.bin").rename(folder / "model.safetensors")  # a pickle named safetensors
    with pytest.raises(models.ModelLoadError, match="found a torch checkpoint"):
        models.load_folder(folder, CPU)
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "../../etc/passwd"}}))
    with pytest.raises(models.UntrustedConfigError, match="plain .safetensors file names"):
        models.load_folder(folder, CPU)


def test_a_kaggle_transformers_instance_loads_like_its_hub_twin(hf_models, settings, monkeypatch):
    from tests.fake_kaggle import PORT, TOKEN, FakeKaggle
    from tests.loopback_server import LoopbackServer

    api = FakeKaggle()
    handle = api.serve_instance(
        "digits-lab",
        "resnet-digits",
        "default",
        "MODEL_FRAMEWORK_TRANSFORMERS",
        hf_models["resnet"],
        training=("digits",),
    )
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")
    monkeypatch.setenv("KAGGLE_API_TOKEN", TOKEN)
    with LoopbackServer(api, port=PORT):
        loaded = models.load(f"kaggle:{handle}", config.load(), CPU)
    assert handle == "digits-lab/resnet-digits/transformers/default" and loaded.loader == "transformers"
    assert loaded.revision == "1" and accuracy(loaded) == pytest.approx(
        reference_accuracy(hf_models["resnet"]), abs=1e-9
    )
