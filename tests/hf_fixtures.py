"""Small real transformers image classifiers, built from configs with a fixed seed and briefly trained on digits.

``build_transformers_model(root, kind)`` writes a folder as ``save_pretrained`` does (config.json with id2label,
model.safetensors, preprocessor_config.json) and returns it; ``kind`` is ``vit``, ``convnext`` or ``resnet``.
``permuted(folder, dest)`` copies one with its classes renamed in another order (the weights' rows moved to
match), ``sharded(folder, dest)`` re-saves one as several safetensors shards with an index, and
``remote_code(dest, marker)`` writes a repo that asks for its own modeling code, which would create ``marker``
if it were ever imported. Folders are cached under pytest's base temp, so each kind trains once a session.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

DIGIT_NAMES = [str(i) for i in range(10)]


def _config(kind: str):
    import transformers as tf

    labels = {"id2label": dict(enumerate(DIGIT_NAMES)), "label2id": {n: i for i, n in enumerate(DIGIT_NAMES)}}
    if kind == "vit":
        return tf.ViTConfig(image_size=32, patch_size=8, hidden_size=48, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=96, **labels), tf.ViTForImageClassification, \
            tf.ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    if kind == "convnext":
        return tf.ConvNextConfig(num_channels=3, hidden_sizes=[16, 32], depths=[1, 1], num_stages=2, patch_size=2,
                                 **labels), tf.ConvNextForImageClassification, \
            tf.ConvNextImageProcessor(size={"shortest_edge": 32}, crop_pct=1.0, image_mean=[0.5] * 3, image_std=[0.25] * 3)
    if kind == "resnet":
        return tf.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], layer_type="basic",
                               downsample_in_first_stage=True, **labels), tf.ResNetForImageClassification, \
            tf.ConvNextImageProcessor(size={"shortest_edge": 32}, crop_pct=1.0, image_mean=[0.45] * 3, image_std=[0.2] * 3)
    raise ValueError(kind)


def build_transformers_model(root: Path, kind: str, epochs: int = 6) -> Path:
    from sn_lake.evaluate import data

    folder = Path(root) / f"hf-{kind}"
    if (folder / "model.safetensors").is_file():
        return folder
    config, cls, processor = _config(kind)
    torch.manual_seed(0)
    model = cls(config)
    splits = data.digits()
    mean = torch.tensor(processor.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(processor.image_std).view(1, 3, 1, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(splits.train), generator=generator).split(64):
            x = (splits.train.x[batch] - mean) / std
            loss = torch.nn.functional.cross_entropy(model(pixel_values=x).logits, splits.train.y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    processor.save_pretrained(tmp)
    tmp.rename(folder)
    return folder


def permuted(folder: Path, dest: Path, order: list[int]) -> Path:
    """Class ``order[i]`` of the original becomes class ``i``: id2label and the head's rows move together."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(folder, dest)
    config = json.loads((dest / "config.json").read_text())
    config["id2label"] = {str(i): DIGIT_NAMES[order[i]] for i in range(10)}
    config["label2id"] = {v: int(k) for k, v in config["id2label"].items()}
    (dest / "config.json").write_text(json.dumps(config))
    state = load_file(str(dest / "model.safetensors"))
    index = torch.tensor(order)
    for key in [k for k in state if k.startswith("classifier.")]:
        state[key] = state[key][index].contiguous()
    save_file(state, str(dest / "model.safetensors"), metadata={"format": "pt"})
    return dest


def sharded(folder: Path, dest: Path) -> Path:
    from transformers import AutoModelForImageClassification

    model = AutoModelForImageClassification.from_pretrained(str(folder), use_safetensors=True)
    model.save_pretrained(dest, safe_serialization=True, max_shard_size="20KB")
    shutil.copy(folder / "preprocessor_config.json", dest / "preprocessor_config.json")
    return dest


def remote_code(folder: Path, dest: Path, marker: Path) -> Path:
    shutil.copytree(folder, dest)
    config = json.loads((dest / "config.json").read_text())
    config["architectures"] = ["LeafNetForImageClassification"]
    config["auto_map"] = {"AutoConfig": "modeling_leaf.LeafConfig",
                          "AutoModelForImageClassification": "modeling_leaf.LeafNetForImageClassification"}
    (dest / "config.json").write_text(json.dumps(config))
    (dest / "modeling_leaf.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n")
    return dest
