"""Small real transformers image classifiers, built from configs with a fixed seed and briefly trained on digits.

Each model is written as ``save_pretrained(..., safe_serialization=True)`` writes it (config.json with the
digit names "0".."9" as ``id2label``, model.safetensors) plus the ``preprocessor_config.json`` of a real
image processor, and is trained on ``sn_lake.evaluate.data.digits()``'s train split through that processor,
so its test accuracy means something (each build checks it is above :data:`MIN_ACCURACY`). Functions:

* ``build_transformers_model(root, kind)`` -> ``root/hf-<kind>``, trained once and cached (the folder is reused
  when it exists). ``kind`` is one of :data:`KINDS`:
  ``vit`` (ViTForImageClassification, ViTImageProcessor resizing 32 -> 24 with antialiased bilinear),
  ``convnext`` (ConvNextForImageClassification, ConvNextImageProcessor upscaling to 36 with bicubic),
  ``resnet`` (ResNetForImageClassification, ConvNextImageProcessor with crop_pct: a 28 x 28 center crop).
* ``permuted(folder, dest, order=PERMUTATION)``: the same network with its classes in another order (id2label and
  the head's rows moved together), for label alignment.
* ``sharded(folder, dest, max_shard_size="20KB")``: re-saved as several shards with ``model.safetensors.index.json``.
* ``remote_code(folder, dest, marker)``: a repo asking for its own code (``auto_map``, a custom architecture, and
  modeling/configuration .py files that create ``marker`` when imported): it must be refused, ``marker`` never appear.
* ``unknown_architecture(folder, dest)``: ``architectures`` names a class transformers does not ship (no auto_map).
* ``build_all(root)`` -> ``{name: folder}`` for :data:`FIXTURES` (the three kinds, ``vit-permuted``,
  ``resnet-sharded``, ``remote-code``, ``unknown-architecture``); ``remote_code_marker(root)`` is the marker's path.
* ``reference_predictions(folder, x)`` / ``reference_accuracy(folder, test=None)``: an independent computation,
  transformers' own loader (``from_pretrained``) and image processor (``AutoImageProcessor``) on the digits test
  split (or the given ``(images, labels)``, e.g. the pixels a Hub dataset repo serves), the
  predicted class read through ``id2label`` (so a permuted model scores what it really scores).
* ``add_to_hub(hub, fixtures, org="hf-fixtures", dataset=None, card_only=())`` -> ``{name: repo_id}``: serve folders
  through ``tests/fake_hub.py``'s ``FakeHub.add_repo`` with the listing fields the Hub derives from the files
  (``library_name`` transformers, ``pipeline_tag`` image-classification, ``config``, ``custom_code``,
  ``safetensors``), and optionally a declared training set.
* pytest fixture ``hf_models`` (session scope; import it into a test module): ``build_all`` under pytest's base
  temp, so each model trains once a session (~10 s each on one CPU thread).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

DIGIT_NAMES = [str(i) for i in range(10)]
KINDS = ("vit", "convnext", "resnet")
PERMUTATION = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]  # output i of the permuted model is digit PERMUTATION[i]
FIXTURES = ("vit", "convnext", "resnet", "vit-permuted", "resnet-sharded", "remote-code", "unknown-architecture")
MIN_ACCURACY = 0.8
SEED = 0


def _quiet() -> None:
    """No progress bars from transformers' loading and saving in the test output."""
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()


def _spec(kind: str):
    """(config, model class, image processor, epochs, learning rate) of one fixture kind."""
    import transformers as tf

    _quiet()
    labels = {"id2label": dict(enumerate(DIGIT_NAMES)), "label2id": {n: i for i, n in enumerate(DIGIT_NAMES)}}
    if kind == "vit":
        config = tf.ViTConfig(
            image_size=24,
            patch_size=8,
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=128,
            **labels,
        )
        processor = tf.ViTImageProcessor(size={"height": 24, "width": 24}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
        return config, tf.ViTForImageClassification, processor, 10, 2e-3
    if kind == "convnext":
        config = tf.ConvNextConfig(
            num_channels=3, hidden_sizes=[16, 32], depths=[1, 1], num_stages=2, patch_size=4, **labels
        )
        processor = tf.ConvNextImageProcessor(
            size={"shortest_edge": 36}, crop_pct=1.0, image_mean=[0.5] * 3, image_std=[0.25] * 3
        )
        return config, tf.ConvNextForImageClassification, processor, 5, 1e-2
    if kind == "resnet":
        config = tf.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], layer_type="basic", **labels)
        processor = tf.ConvNextImageProcessor(
            size={"shortest_edge": 28}, crop_pct=0.875, image_mean=[0.45] * 3, image_std=[0.2] * 3
        )
        return config, tf.ResNetForImageClassification, processor, 4, 1e-2
    raise ValueError(f"Expected a fixture kind from {KINDS}, found {kind!r}.")


def processed(processor, x: torch.Tensor) -> torch.Tensor:
    """``processor`` applied to [0, 1] images as the pixel values (0..255) it expects."""
    return processor(images=list(x * 255.0), return_tensors="pt")["pixel_values"]


def build_transformers_model(root: Path, kind: str) -> Path:
    """``root/hf-<kind>``: a small transformers classifier trained on digits (built once, then reused)."""
    from sn_lake.evaluate import data

    folder = Path(root) / f"hf-{kind}"
    if (folder / "model.safetensors").is_file():
        return folder
    config, cls, processor, epochs, lr = _spec(kind)
    torch.manual_seed(SEED)
    model = cls(config)
    splits = data.digits()
    x, y = processed(processor, splits.train.x), splits.train.y
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    batches = (len(y) + 31) // 32
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * batches)
    generator = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(y), generator=generator).split(32):
            loss = torch.nn.functional.cross_entropy(model(pixel_values=x[batch]).logits, y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        accuracy = float(
            (model(pixel_values=processed(processor, splits.test.x)).logits.argmax(1) == splits.test.y).float().mean()
        )
    if accuracy < MIN_ACCURACY:
        raise AssertionError(
            f"Expected the {kind} fixture to reach {MIN_ACCURACY} test accuracy, found {accuracy:.3f}."
        )
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    processor.save_pretrained(tmp)
    tmp.rename(folder)
    return folder


def permuted(folder: Path, dest: Path, order: list[int] = PERMUTATION) -> Path:
    """Output ``i`` of the copy is class ``order[i]`` of the original: id2label and the head's rows move together."""
    from safetensors.torch import load_file, save_file

    if (dest / "model.safetensors").is_file():
        return dest
    shutil.copytree(folder, dest)
    config = json.loads((dest / "config.json").read_text())
    config["id2label"] = {str(i): DIGIT_NAMES[order[i]] for i in range(len(order))}
    config["label2id"] = {v: int(k) for k, v in config["id2label"].items()}
    (dest / "config.json").write_text(json.dumps(config, indent=2))
    state = load_file(str(dest / "model.safetensors"))
    heads = [k for k in state if k.startswith("classifier.")]
    assert heads, f"Expected a classifier head in {folder}, found keys {sorted(state)[:5]}."
    index = torch.tensor(order)
    for key in heads:
        state[key] = state[key][index].contiguous()
    save_file(state, str(dest / "model.safetensors"), metadata={"format": "pt"})
    return dest


def sharded(folder: Path, dest: Path, max_shard_size: str = "20KB") -> Path:
    """The same model saved as several safetensors shards and ``model.safetensors.index.json``."""
    from transformers import AutoModelForImageClassification

    _quiet()
    if (dest / "model.safetensors.index.json").is_file():
        return dest
    model = AutoModelForImageClassification.from_pretrained(str(folder), use_safetensors=True)
    model.save_pretrained(dest, safe_serialization=True, max_shard_size=max_shard_size)
    shutil.copy(folder / "preprocessor_config.json", dest / "preprocessor_config.json")
    assert len(list(dest.glob("*.safetensors"))) > 1, "expected several shards"
    return dest


def remote_code(folder: Path, dest: Path, marker: Path) -> Path:
    """A repo that asks for its own code: importing either .py file would create ``marker``."""
    if not (dest / "config.json").is_file():
        shutil.copytree(folder, dest)
    config = json.loads((dest / "config.json").read_text())
    config.update(
        architectures=["LeafNetForImageClassification"],
        model_type="leafnet",
        auto_map={
            "AutoConfig": "configuration_leaf.LeafConfig",
            "AutoModelForImageClassification": "modeling_leaf.LeafNetForImageClassification",
        },
    )
    (dest / "config.json").write_text(json.dumps(config, indent=2))
    payload = f"from pathlib import Path\nPath({str(marker)!r}).write_text('the repo code ran')\n"
    (dest / "modeling_leaf.py").write_text(payload + "class LeafNetForImageClassification:\n    pass\n")
    (dest / "configuration_leaf.py").write_text(payload + "class LeafConfig:\n    pass\n")
    return dest


def unknown_architecture(folder: Path, dest: Path) -> Path:
    """A config naming a class transformers does not ship, without auto_map."""
    if not (dest / "config.json").is_file():
        shutil.copytree(folder, dest)
    config = json.loads((dest / "config.json").read_text())
    config["architectures"] = ["SuperViTForImageClassification"]
    (dest / "config.json").write_text(json.dumps(config, indent=2))
    return dest


def remote_code_marker(root: Path) -> Path:
    return Path(root) / "remote-code-ran"


def build_all(root: Path) -> dict[str, Path]:
    """Every fixture of :data:`FIXTURES` under ``root`` (trained models reused when already built)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    built = {kind: build_transformers_model(root, kind) for kind in KINDS}
    built["vit-permuted"] = permuted(built["vit"], root / "hf-vit-permuted")
    built["resnet-sharded"] = sharded(built["resnet"], root / "hf-resnet-sharded")
    built["remote-code"] = remote_code(built["vit"], root / "hf-remote-code", remote_code_marker(root))
    built["unknown-architecture"] = unknown_architecture(built["vit"], root / "hf-unknown-architecture")
    return built


def reference_predictions(folder: Path, x: torch.Tensor) -> list[str]:
    """Class names predicted for [0, 1] images ``x`` by transformers' own loader and image processor (not sn_lake's)."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    _quiet()
    net = AutoModelForImageClassification.from_pretrained(str(folder), use_safetensors=True).eval()
    processor = AutoImageProcessor.from_pretrained(str(folder))
    with torch.no_grad():
        index = net(pixel_values=processed(processor, x)).logits.argmax(1)
    return [net.config.id2label[int(i)] for i in index]


def reference_accuracy(folder: Path, test: tuple[torch.Tensor, torch.Tensor] | None = None) -> float:
    """Accuracy by :func:`reference_predictions` (names "0".."9" compared with the labels) on ``test``, an
    ``(images in [0, 1], labels)`` pair; by default the digits test split of ``sn_lake.evaluate.data.digits()``."""
    if test is None:
        from sn_lake.evaluate import data

        split = data.digits().test
        test = split.x, split.y
    x, y = test
    names = reference_predictions(folder, x)
    return sum(int(n) == int(label) for n, label in zip(names, y.tolist(), strict=True)) / len(names)


def _parameters(folder: Path) -> int:
    """Parameters of every safetensors file in ``folder``, from their headers (what the Hub's listing reports)."""
    total = 0
    for path in folder.glob("*.safetensors"):
        with path.open("rb") as fh:
            header = json.loads(fh.read(int.from_bytes(fh.read(8), "little")))
        for name, tensor in header.items():
            if name != "__metadata__":
                total += math.prod(tensor["shape"])
    return total


def _card(dataset: str) -> str:
    """A model card naming its training set in the YAML front matter, as the Trainer's ``create_model_card`` does."""
    return f"---\nlibrary_name: transformers\ndatasets:\n- {dataset}\n---\n\n# A digits classifier\n"


def add_to_hub(
    hub,
    fixtures: dict[str, Path],
    org: str = "hf-fixtures",
    *,
    dataset: str | None = None,
    card_only: tuple[str, ...] = (),
) -> dict[str, str]:
    """Serve each fixture folder through a ``FakeHub`` as ``<org>/<name>``; returns ``{name: repo_id}``.

    The listing carries what the Hub derives from the files: ``config`` (``architectures``, ``model_type`` and any
    ``auto_map`` of config.json), the ``custom_code`` tag when config.json asks for code of its own, and
    ``safetensors`` (parameter count from the headers). ``dataset`` (a Hub dataset id) is declared in each card's
    front matter and, as the Hub mirrors it, in the ``dataset:`` tags and ``cardData``; for the names in
    ``card_only`` it is in the README alone, so only the crawl's card pass can find it.
    """
    repos = {}
    for name, folder in fixtures.items():
        repo_id = f"{org}/{name}"
        config = json.loads((Path(folder) / "config.json").read_text())
        listed = {k: config[k] for k in ("architectures", "model_type", "auto_map") if k in config}
        tags = ["transformers", "image-classification"] + (["custom_code"] if "auto_map" in config else [])
        n = _parameters(Path(folder))
        metadata: dict = {"config": listed, "safetensors": {"parameters": {"F32": n}, "total": n}}
        if dataset:
            metadata["card"] = _card(dataset)
            if name not in card_only:
                tags.append(f"dataset:{dataset}")
                metadata["cardData"] = {"datasets": [dataset]}
        hub.add_repo(
            repo_id, folder, library_name="transformers", pipeline_tag="image-classification", tags=tags, **metadata
        )
        repos[name] = repo_id
    return repos


@pytest.fixture(scope="session")
def hf_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """:func:`build_all` once a session (one CPU thread: the test machine's cores are shared)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return build_all(tmp_path_factory.getbasetemp() / "hf_fixtures")
    finally:
        torch.set_num_threads(threads)
