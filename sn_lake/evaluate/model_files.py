"""The files of a model folder: which one holds the weights, what they are by their first bytes, their tensors'
shapes from a safetensors header alone, and their tensors loaded without running code (safetensors, or
``torch.load(weights_only=True)``; a plain pickle is refused). :class:`ModelFormat` is what a checked folder holds.
"""

from __future__ import annotations

import json
import math
import pickle
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from sn_lake.evaluate.classifier import Preprocessing
from sn_lake.evaluate.model_config import UntrustedConfigError, read_json
from sn_lake.evaluate.models_errors import ModelLoadError
from sn_lake.weight_formats import SNIFF_BYTES, format_from_bytes

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.pth", "model.ckpt")
RAW_CHECKPOINT_SUFFIXES = (".pth", ".ckpt", ".bin", ".pt")
SAFETENSORS_INDEX = "model.safetensors.index.json"
MAX_HEADER_BYTES = 100 * 2**20  # a safetensors header larger than this is not a model's


class UnsafeCheckpointError(ModelLoadError):
    """A checkpoint needs arbitrary code to unpickle, so it was refused without running it."""


@dataclass
class ModelFormat:
    """What :func:`~sn_lake.evaluate.models.inspect_folder` found: everything checked, nothing built."""

    loader: str  # "timm" | "transformers"
    architecture: str
    num_classes: int
    labels: list[str] | None
    num_parameters: int
    weights: list[Path]
    config: dict
    preprocessing: Preprocessing
    shapes: dict[str, tuple[int, ...]]
    state: dict | None = None  # a torch checkpoint already read (weights_only) to learn its shapes


def zip_format(path: Path) -> str:
    """``pytorch-state-dict`` for torch.save's zip archive, ``tensorflow`` for a Keras 3 archive, by their entries."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        raise ModelLoadError(
            f"Expected a whole zip archive in {path} (its first bytes say zip), found a damaged one ({exc}): download"
            " it again."
        ) from exc
    if any(n.rpartition("/")[2] == "data.pkl" for n in names):
        return "pytorch-state-dict"
    if any(n.endswith(".weights.h5") for n in names) or {"config.json", "metadata.json"} <= set(names):
        return "tensorflow"
    raise ModelLoadError(
        f"Expected torch.save's zip archive (with a data.pkl) in {path}, found a zip of {names[:5]}: it is not a"
        " PyTorch checkpoint; use the model's safetensors or torch.save weights."
    )


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file, or a ModelLoadError when it is broken."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except SafetensorError as exc:
        raise ModelLoadError(
            f"Expected a whole safetensors file in {path} (its first bytes say safetensors), found a broken one"
            f" ({exc}): download it again."
        ) from exc


def load_torch_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of a torch.save checkpoint, read with ``weights_only=True`` (nothing in it runs)."""
    try:
        # a file object: torch.load would pick its loader by a path's suffix (".safetensors")
        with path.open("rb") as fh:
            checkpoint = torch.load(fh, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"Expected a checkpoint of plain tensors in {path}, found one that needs arbitrary code to unpickle "
            f"({str(exc).splitlines()[0][:200]}); it was refused and nothing in it ran: ask for safetensors weights."
        ) from exc
    except (RuntimeError, EOFError, ValueError) as exc:
        raise ModelLoadError(
            f"Expected a torch.save checkpoint in {path}, found one torch.load could not read"
            f" ({str(exc).splitlines()[0][:200]}): download it again or ask for safetensors weights."
        ) from exc
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
    if not isinstance(checkpoint, dict) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise ModelLoadError(
            f"Expected a state dict (name -> tensor) in {path}, found {type(checkpoint).__name__}: save"
            " model.state_dict()."
        )
    return {k.removeprefix("module."): v for k, v in checkpoint.items()}


def weights_kind(path: Path) -> str:
    """``safetensors`` or ``pytorch-state-dict`` by the file's first bytes, or a ModelLoadError naming what it is."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    kind = format_from_bytes(head, path.name)
    if head.startswith(b"PK\x03\x04"):
        kind = zip_format(path)  # torch.save's archive or Keras 3's, by what it holds rather than its name
    if kind in ("safetensors", "pytorch-state-dict"):
        return kind
    if kind == "pickle":
        raise UnsafeCheckpointError(
            f"Expected safetensors or a torch.save checkpoint in {path}, found a plain pickle, which can run arbitrary"
            " code when unpickled; it was refused without unpickling: ask for safetensors weights."
        )
    if kind == "tensorflow":
        container = "HDF5" if head.startswith(b"\x89HDF") else "a Keras archive"
        raise ModelLoadError(
            f"Expected PyTorch weights (safetensors or torch.save) in {path}, found TensorFlow/Keras weights"
            f" ({container}), which is not a PyTorch format: use the model's PyTorch or safetensors weights."
        )
    raise ModelLoadError(
        f"Expected safetensors or a torch.save checkpoint in {path}, found bytes of neither (first bytes"
        f" {head[:16].hex() or 'none: the file is empty'}): use the model's safetensors or torch.save weights."
    )


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from safetensors or a torch.save checkpoint (``weights_only=True``).

    The two are told apart by the file's first bytes, not its suffix.
    """
    path = Path(path)
    return load_safetensors(path) if weights_kind(path) == "safetensors" else load_torch_checkpoint(path)


def safetensors_header(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from a safetensors file's header alone (8-byte little-endian length, then JSON)."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as fh:
        prefix = fh.read(8)
        length = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
        if not 2 <= length <= min(MAX_HEADER_BYTES, size - 8):
            raise ModelLoadError(
                f"Expected a safetensors header of at most {min(MAX_HEADER_BYTES, max(size - 8, 0))} bytes in {path}, "
                f"found a length of {length}: the file is broken or not safetensors; download it again."
            )
        raw = fh.read(length)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(
            f"Expected a JSON safetensors header in {path}, found a broken one ({exc}): download it again."
        ) from exc
    if not isinstance(header, dict):
        raise ModelLoadError(
            f"Expected a JSON object as the safetensors header of {path}, found {type(header).__name__}: download it"
            " again."
        )
    shapes: dict[str, tuple[int, ...]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise ModelLoadError(
                f"Expected a list of sizes as the shape of {name!r} in {path}'s header, found {shape!r}: the file is"
                " broken."
            )
        shapes[name] = tuple(shape)
    return shapes


def count_parameters(shapes: dict[str, tuple[int, ...]]) -> int:
    """Elements of every tensor (parameters and stored buffers), as the Hub counts safetensors parameters."""
    return sum(math.prod(shape) for shape in shapes.values())


def weights_file(folder: Path) -> Path:
    """The weights of a timm folder: the first of :data:`WEIGHT_FILES` present, else the first other weights by name."""
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raw = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", *RAW_CHECKPOINT_SUFFIXES))
    if not raw:
        raise ModelLoadError(
            f"Expected weights ({', '.join(WEIGHT_FILES)}) in {folder}, found none: add model.safetensors."
        )
    return raw[0]


def _sharded(folder: Path) -> tuple[list[Path], dict[str, tuple[int, ...]]]:
    """The shards a ``model.safetensors.index.json`` names, and the shapes from their headers."""
    index_path = folder / SAFETENSORS_INDEX
    index = read_json(index_path, "a sharded-safetensors index")
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise ModelLoadError(
            f"Expected a 'weight_map' of tensor -> shard file in {index_path}, found {type(weight_map).__name__}:"
            " re-save the model."
        )
    names = set(weight_map.values())
    bad = sorted(str(n) for n in names if not isinstance(n, str) or not re.fullmatch(r"[\w.\-]+\.safetensors", n))
    if bad:
        raise UntrustedConfigError(
            f"Expected plain .safetensors file names in {index_path}, found {bad[:3]}: shards must sit beside the"
            " index."
        )
    missing = sorted(n for n in names if not (folder / n).is_file())
    if missing:
        raise ModelLoadError(
            f"Expected the shards {missing[:3]} that {index_path.name} names in {folder}, found them missing: download"
            " them."
        )
    shards = sorted(folder / n for n in names)
    shapes: dict[str, tuple[int, ...]] = {}
    for shard in shards:
        if weights_kind(shard) != "safetensors":
            raise ModelLoadError(
                f"Expected safetensors bytes in the shard {shard}, found a torch checkpoint: re-save with"
                " safe_serialization."
            )
        for name, shape in safetensors_header(shard).items():
            if name in shapes or weight_map.get(name) != shard.name:
                raise ModelLoadError(
                    f"Expected each tensor once, in the shard {index_path.name} names, found {name!r} in {shard.name} "
                    f"(index: {weight_map.get(name)}): the shards and the index disagree."
                )
            shapes[name] = shape
    unlisted = sorted(set(weight_map) - set(shapes))
    if unlisted:
        raise ModelLoadError(
            f"Expected the tensors {unlisted[:3]} that {index_path.name} lists in its shards, found them in none:"
            " download them again."
        )
    return shards, shapes


def check_head(shapes: dict, heads: Sequence[str], num_classes: int, where: str) -> None:
    """Every head weight the header holds has ``num_classes`` rows (a million-class config fails here, unbuilt)."""
    for head in heads:
        shape = shapes.get(f"{head}.weight")
        if shape and shape[0] != num_classes:
            raise ModelLoadError(
                f"Expected a classifier head of {num_classes} outputs ({head}.weight) as config.json says, found "
                f"shape {list(shape)} in {where}: config.json and the weights disagree."
            )


def folder_weights(folder: Path, safetensors_only: bool) -> tuple[list[Path], dict, dict | None]:
    """A folder's weight files, their tensors' shapes, and the state dict when a torch checkpoint had to be read."""
    if (folder / "model.safetensors").is_file() or not (folder / SAFETENSORS_INDEX).is_file():
        if safetensors_only:
            path = folder / "model.safetensors"
            if not path.is_file():
                found = sorted(
                    p.name for p in folder.iterdir() if p.suffix in (".bin", ".h5", ".msgpack", ".pth", ".safetensors")
                )
                raise ModelLoadError(
                    f"Expected model.safetensors or {SAFETENSORS_INDEX} in {folder}, found {found[:3] or 'no weights'}:"
                    " ask for safetensors weights (torch pickles of transformers models are not loaded)."
                )
            if weights_kind(path) != "safetensors":
                raise ModelLoadError(
                    f"Expected safetensors bytes in {path}, found a torch checkpoint: re-save with"
                    " safe_serialization=True."
                )
        else:
            path = weights_file(folder)
        if weights_kind(path) == "safetensors":
            return [path], safetensors_header(path), None
        state = load_torch_checkpoint(path)  # weights_only=True; a torch file has no header to read instead
        return [path], {k: tuple(v.shape) for k, v in state.items()}, state
    shards, shapes = _sharded(folder)
    return shards, shapes, None


def compare_shapes(expected: dict[str, tuple], found: dict[str, tuple], what: str, where: str, hint: str) -> None:
    """A ModelLoadError counting the missing, unexpected and differently shaped tensors, when there are any."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    resized = sorted(k for k in set(expected) & set(found) if tuple(expected[k]) != tuple(found[k]))
    if missing or unexpected or resized:
        raise ModelLoadError(
            f"Expected weights matching {what}, found {len(missing)} missing, {len(unexpected)} unexpected and"
            f" {len(resized)} differently shaped tensors (e.g. {(missing or unexpected or resized)[:3]}) in {where}:"
            f" {hint}."
        )


def net_shapes(net: nn.Module) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor of a network's state dict."""
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}
