"""Dataset repos in the Hub's own Parquet layout, for :class:`fake_hub.FakeHub.add_dataset` (tests and benchmarks).

Shards are real Parquet files written with pyarrow the way ``datasets`` writes them: an image column as the
``{"bytes": binary, "path": string}`` struct (PNG bytes here), an int64 label column, and the schema's
``huggingface`` metadata with the features (``{"_type": "Image"}``, ``{"_type": "ClassLabel", "names": [...]}``).
Cards carry ``dataset_info.features`` and ``configs`` in their YAML front matter, as ``push_to_hub`` writes them.

* :func:`digits_repo` -- scikit-learn's digits exactly as :func:`sn_lake.evaluate.data.digits` splits them (same
  rows, same order), as 32x32 RGB PNGs of the uint8 values ``round(255 * x)``, in several shards per split.
* :func:`convert_only_repo` -- the same data where main holds only a card and a loading script (never run) and
  the shards live on ``refs/convert/parquet`` (``default/<split>/NNNN.parquet``).
* :func:`gated_repo` -- an ImageNet-like gated set: train and validation shards, and a test split whose labels
  are hidden (-1), as ILSVRC/imagenet-1k has.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

DIGIT_NAMES = [str(d) for d in range(10)]
INT64 = pa.int64()  # the label type ``datasets`` writes


def png(image: np.ndarray) -> bytes:
    """PNG bytes of an ``H x W x 3`` (or ``H x W``) uint8 array (lossless)."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(out, format="PNG")
    return out.getvalue()


def shard(
    images: list[bytes],
    labels: list[int],
    names: list[str] | None,
    *,
    image_column: str = "image",
    label_column: str = "label",
    label_type: pa.DataType = INT64,
) -> bytes:
    """One Parquet shard as ``datasets`` writes it (Image struct, ClassLabel column, ``huggingface`` metadata)."""
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    cells = [{"bytes": data, "path": None} for data in images]
    label_feature = {"names": names, "_type": "ClassLabel"} if names else {"dtype": "int64", "_type": "Value"}
    features = {image_column: {"_type": "Image"}, label_column: label_feature}
    schema = pa.schema(
        [(image_column, image_type), (label_column, label_type)],
        metadata={b"huggingface": json.dumps({"info": {"features": features}}).encode()},
    )
    table = pa.table(
        {image_column: pa.array(cells, type=image_type), label_column: pa.array(labels, type=label_type)}, schema=schema
    )
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=100)
    return out.getvalue()


def card(
    names: list[str],
    splits: dict[str, int],
    *,
    config: str = "default",
    data_files: dict[str, str] | None = None,
    image_column: str = "image",
    label_column: str = "label",
    pretty_name: str = "Digits",
) -> str:
    """A dataset card whose YAML front matter has ``dataset_info`` (features, splits) and optionally ``configs``."""
    lines = [
        "---",
        f"pretty_name: {pretty_name}",
        "task_categories:",
        "- image-classification",
        "dataset_info:",
        f"  config_name: {config}",
        "  features:",
        f"  - name: {image_column}",
        "    dtype: image",
        f"  - name: {label_column}",
        "    dtype:",
        "      class_label:",
        "        names:",
    ]
    lines += [f"          '{i}': '{name}'" for i, name in enumerate(names)]
    lines += ["  splits:"] + [f"  - name: {split}\n    num_examples: {n}" for split, n in splits.items()]
    if data_files:
        lines += ["configs:", f"- config_name: {config}", "  data_files:"]
        lines += [f"  - split: {split}\n    path: {pattern}" for split, pattern in data_files.items()]
        lines += ["  default: true"]
    lines += ["---", "", f"# {pretty_name}", "", "A test dataset served by the loopback fake Hub.", ""]
    return "\n".join(lines)


def digits_uint8() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (images, labels), "test": ...}``: digits() as uint8 ``N x 32 x 32 x 3`` (round(255 x)), in order."""
    from sn_lake.evaluate import data

    splits = data.digits()
    out = {}
    for name, split in (("train", splits.train), ("test", splits.test)):
        images = (split.x * 255.0).round().clamp(0, 255).to(dtype=__import__("torch").uint8)
        out[name] = (images.permute(0, 2, 3, 1).contiguous().numpy(), split.y.numpy().astype(np.int64))
    return out


def _sharded(images: np.ndarray, labels: np.ndarray, n_shards: int) -> list[bytes]:
    bounds = np.linspace(0, len(labels), n_shards + 1).astype(int)
    return [
        shard([png(img) for img in images[a:b]], labels[a:b].tolist(), DIGIT_NAMES)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def digits_repo(train_shards: int = 4, test_shards: int = 2) -> dict[str, bytes]:
    """The files of digits as a Hub dataset: ``data/<split>-NNNNN-of-NNNNN.parquet`` and a README with ``configs``."""
    arrays = digits_uint8()
    files: dict[str, bytes] = {}
    for split, n_shards in (("train", train_shards), ("test", test_shards)):
        for i, data in enumerate(_sharded(*arrays[split], n_shards)):
            files[f"data/{split}-{i:05d}-of-{n_shards:05d}.parquet"] = data
    sizes = {split: len(arrays[split][1]) for split in arrays}
    files["README.md"] = card(DIGIT_NAMES, sizes, data_files={s: f"data/{s}-*" for s in sizes}).encode()
    files[".gitattributes"] = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"
    return files


def convert_only_repo(train_shards: int = 2) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(main files, refs/convert/parquet files) of digits served only through the Hub's Parquet conversion."""
    arrays = digits_uint8()
    sizes = {split: len(arrays[split][1]) for split in arrays}
    main = {
        "README.md": card(DIGIT_NAMES, sizes).encode(),  # no configs: the data comes from a loading script
        "digits.py": b"raise SystemExit('a dataset loading script: sn_lake must never run it')\n",
    }
    branch = {".gitattributes": b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"}
    for split, n_shards in (("train", train_shards), ("test", 1)):
        for i, data in enumerate(_sharded(*arrays[split], n_shards)):
            branch[f"default/{split}/{i:04d}.parquet"] = data
    return main, branch


def gated_repo(per_class: int = 6, side: int = 40, seed: int = 0) -> dict[str, bytes]:
    """An ImageNet-like gated set: 3 classes of noise images around distinct colours, ``train`` (2 shards),
    ``validation`` (1) and ``test`` (1, labels hidden as -1), non-square images so resizing and cropping run."""
    rng = np.random.default_rng(seed)
    names = ["tench", "goldfish", "great white shark"]
    colours = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200]])

    def images(n: int) -> tuple[list[bytes], list[int]]:
        labels = [i % 3 for i in range(n)]
        noise = rng.integers(-30, 30, size=(n, side, side + 8, 3))
        pixels = np.clip(colours[labels][:, None, None, :] + noise, 0, 255).astype(np.uint8)
        return [png(p) for p in pixels], labels

    files: dict[str, bytes] = {}
    layout = (("train", 6 * per_class, 2), ("validation", 3 * per_class, 1), ("test", 3 * per_class, 1))
    for split, n, n_shards in layout:
        pngs, labels = images(n)
        if split == "test":
            labels = [-1] * n
        bounds = np.linspace(0, n, n_shards + 1).astype(int)
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            files[f"data/{split}-{i:05d}-of-{n_shards:05d}.parquet"] = shard(pngs[a:b], labels[a:b], names)
    sizes = {"train": 6 * per_class, "validation": 3 * per_class, "test": 3 * per_class}
    files["README.md"] = card(names, sizes, data_files={s: f"data/{s}-*" for s in sizes}, pretty_name="Gated").encode()
    return files
