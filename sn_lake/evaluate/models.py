"""Safe model loading: timm and transformers folders, Hub repos and Kaggle instances, without running their code.

Two folder formats are evaluated (:func:`inspect_folder` says which one a folder is, and why not, without
building anything):

* **timm**: ``config.json`` with ``architecture``, ``num_classes``, ``model_args`` and ``pretrained_cfg``
  (``input_size``, ``mean``, ``std``), and weights: ``model.safetensors`` or a raw checkpoint (``.pth``,
  ``.ckpt``, ``.bin``). The weights' first bytes, not their suffix, choose the loader: safetensors, or a
  torch.save checkpoint read only through ``torch.load(weights_only=True)``; a plain pickle is refused.
* **transformers**: ``config.json`` whose ``architectures`` is one ``*ForImageClassification`` class that
  the pinned transformers ships (for its ``model_type``), ``model.safetensors`` or a sharded
  ``model.safetensors.index.json``, and ``preprocessor_config.json``. The network is built with
  ``AutoModelForImageClassification.from_config`` (never ``trust_remote_code``: a config with ``auto_map``
  is refused and no file of the repo is ever imported); the checked weights are loaded here. The image
  processor's parameters (its class's defaults where a key is absent) become torch operations inside
  :class:`Classifier`, so attacks still perturb [0, 1] pixels.

Nothing in ``config.json`` is trusted: the architecture must be a plain name that timm or transformers
ships (no ``hf-hub:``, ``local-dir:`` or paths), timm ``model_args`` pass an allow-list of structural
arguments with plain values, and the class count, the classifier head and the parameter count
(budget: ``SN_LAKE_MAX_PARAMETERS``) are checked against the safetensors header (8 bytes of length and
its JSON, nothing more is read) before anything is built. The network is then built on PyTorch's
``meta`` device (no memory) and compared key by key with the weights, and only then for real.

Kaggle instances (``kaggle:<owner>/<model>/<framework>/<variation>``) are downloaded with kagglesdk into
the same folder format: timm or transformers files as they are, or a plain state dict of the timm
architecture the instance's metadata names (a ``config.json`` is derived for it). Every failure is a
:class:`ModelLoadError` whose message is one sentence with the reason.
"""

from __future__ import annotations

import json
import math
import pickle
import re
import shutil
import tarfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from sn_lake import lake
from sn_lake.config import Settings
from sn_lake.evaluate import labels as labels_mod
from sn_lake.evaluate.labels import LabelMismatch  # noqa: F401 - re-exported: models.LabelMismatch
from sn_lake.evaluate.models_errors import ModelLoadError  # torch-free, so labels can raise it too
from sn_lake.weight_formats import SNIFF_BYTES, format_from_bytes

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.pth", "model.ckpt")
RAW_CHECKPOINT_SUFFIXES = (".pth", ".ckpt", ".bin", ".pt")
SAFETENSORS_INDEX = "model.safetensors.index.json"
PREPROCESSOR_CONFIG = "preprocessor_config.json"
DEFAULT_MAX_PARAMETERS = Settings.max_parameters  # SN_LAKE_MAX_PARAMETERS' default (sn_lake/config.py)
MAX_CLASSES = 1_000_000
MAX_SIDE = 4096  # pixels of a model's input side
MAX_HEADER_BYTES = 100 * 2**20  # a safetensors header larger than this is not a model's
MAX_CONFIG_BYTES = 10 * 2**20

# timm ``model_args`` that only shape the network; anything else (checkpoint_path, pretrained_cfg_overlay,
# pretrained, features_only, cache_dir, ...) is refused, and string values must be plain names.
TIMM_MODEL_ARGS = frozenset({
    "img_size", "in_chans", "global_pool", "drop_rate", "drop_path_rate", "attn_drop_rate", "proj_drop_rate",
    "pos_drop_rate", "patch_drop_rate", "channels", "layers", "depths", "dims", "embed_dim", "embed_dims", "depth",
    "num_heads", "mlp_ratio", "mlp_ratios", "patch_size", "qkv_bias", "qk_norm", "class_token", "no_embed_class",
    "reg_tokens", "dynamic_img_size", "dynamic_img_pad", "init_values", "fc_norm", "pre_norm", "window_size",
    "stem_width", "stem_type", "stem_chs", "base_width", "cardinality", "width_multiplier", "channel_multiplier",
    "depth_multiplier", "output_stride", "act_layer", "norm_layer", "block_type", "kernel_sizes", "head_hidden_size",
    "num_features", "ls_init_value", "conv_mlp", "use_grn", "head_norm_first", "block_args", "widths", "groups",
    "width_factor", "se_ratio", "sr_ratios", "attn_layer", "aa_layer", "down_kernel_size", "avg_down", "zero_init_last",
})  # fmt: skip
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
TIMM_NAME = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)?", re.IGNORECASE)
HF_CLASS = re.compile(r"[A-Za-z][A-Za-z0-9]{0,127}")
_INTERPOLATION = {0: "nearest-exact", 1: "bicubic", 2: "bilinear", 3: "bicubic"}  # PIL codes; LANCZOS ~ bicubic
# image processors whose pixel path is the generic resize -> center crop -> rescale -> normalize
_GENERIC_PROCESSORS = {"BeitImageProcessor", "MobileNetV2ImageProcessor"}  # they only add segmentation-map steps


class UnsafeCheckpointError(ModelLoadError):
    """A checkpoint needs arbitrary code to unpickle, so it was refused without running it."""


class UntrustedConfigError(ModelLoadError):
    """config.json asks for something evaluation never does: remote code, other repos, paths, unknown networks."""


def resolve_device(settings: Settings) -> torch.device:
    """``SN_LAKE_DEVICE``: ``cuda``, ``cpu``, or ``auto`` (CUDA when present, else CPU).

    Also applies ``SN_LAKE_TORCH_THREADS``.
    """
    torch.set_num_threads(max(settings.torch_threads, 1))
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("SN_LAKE_DEVICE is 'cuda' but no CUDA device is visible: set SN_LAKE_DEVICE=cpu or auto.")
    if settings.device == "cpu" or (settings.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda")


def hardware(device: torch.device) -> str:
    """A short description of the device, e.g. ``cpu (2 threads)`` or the CUDA card's name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


# ------------------------------------------------------------------------------------------ preprocessing
@dataclass(frozen=True)
class Preprocessing:
    """What happens to [0, 1] images before the network: resize, crop, then ``(x - mean) / std``.

    ``mode="timm"``: resize to ``input_size`` when the images differ (bilinear), as timm's eval transform
    does for the datasets here. ``mode="transformers"``: the image processor's steps, in its order: warp to
    ``resize`` or scale the shortest edge to ``shortest_edge``, then center-crop ``crop`` (zero padding when
    larger). The processor's rescale factor is folded into ``mean``/``std``. ``in_chans=1``: the three
    (equal) channels of the datasets become one.
    """

    input_size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    mode: str = "timm"
    resize: tuple[int, int] | None = None
    shortest_edge: int | None = None
    crop: tuple[int, int] | None = None
    interpolation: str = "bilinear"
    antialias: bool = False
    in_chans: int = 3


def shortest_edge_size(height: int, width: int, shortest: int) -> tuple[int, int]:
    """transformers' ``get_resize_output_image_size(default_to_square=False)``: the short side becomes ``shortest``."""
    short, long = (height, width) if height <= width else (width, height)
    new_long = int(shortest * long / short)
    return (shortest, new_long) if height <= width else (new_long, shortest)


def center_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """transformers' center crop: zero-pad when the crop is larger, then take the middle (top/left rounded down)."""
    height, width = x.shape[-2:]
    ch, cw = size
    if ch > height or cw > width:
        pad_w, pad_h = max(cw - width, 0), max(ch - height, 0)
        x = F.pad(x, (pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2))
        height, width = x.shape[-2:]
    top, left = int((height - ch) / 2.0), int((width - cw) / 2.0)
    return x[..., top : top + ch, left : left + cw]


class Classifier(nn.Module):
    """A network behind its own preprocessing: takes images in [0, 1], returns plain logits.

    Resizing, cropping and normalizing (:class:`Preprocessing`) happen inside, so attacks perturb and clip
    in [0, 1] pixel space. A transformers network's output object is reduced to its ``logits``, and
    ``label_order`` (set by :func:`align_labels`) reorders the logits into the dataset's class order.

    ``score_dtype`` (None: float32 throughout) runs the forward passes made without autograd (scoring: the
    logits the families share, queries, detectors) under autocast to that dtype, and returns float32 logits;
    passes that need gradients (FGSM, PGD, Neural Cleanse, training) stay in float32. Off by default:
    ``benchmarks/gpu.sh`` turns it on for a model only after its results matched float32 within the tolerances.
    """

    def __init__(
        self,
        net: nn.Module,
        input_size: tuple[int, int],
        mean,
        std,
        preprocessing: Preprocessing | None = None,
        hf_output: bool = False,
    ):
        super().__init__()
        self.net = net
        self.preprocessing = preprocessing or Preprocessing(tuple(input_size), tuple(mean), tuple(std))
        self.input_size = tuple(input_size)
        self.hf_output = hf_output
        self.score_dtype: torch.dtype | None = None
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("label_order", None, persistent=False)

    def set_label_order(self, order: Sequence[int] | None) -> None:
        """Logits ``[:, order]`` from now on (None, or the identity: the network's own order)."""
        if order is None or list(order) == list(range(len(order))):
            self.label_order = None
        else:
            self.label_order = torch.tensor(list(order), dtype=torch.long, device=self.mean.device)

    def _resize(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        mode = self.preprocessing.interpolation
        if mode == "nearest-exact":
            return F.interpolate(x, size=size, mode=mode)
        return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=self.preprocessing.antialias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.score_dtype is not None and not torch.is_grad_enabled():
            with torch.autocast(x.device.type, dtype=self.score_dtype):
                return self._logits(x).float()
        return self._logits(x)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        p = self.preprocessing
        if p.in_chans == 1 and x.shape[1] == 3:
            x = x.mean(dim=1, keepdim=True)
        if p.mode == "timm":
            x = self._resize(x, self.input_size)
        else:
            if p.shortest_edge:
                x = self._resize(x, shortest_edge_size(x.shape[-2], x.shape[-1], p.shortest_edge))
            elif p.resize:
                x = self._resize(x, p.resize)
            if p.crop:
                x = center_crop(x, p.crop)
        # x - mean is a new tensor whatever came in, so dividing it in place saves an allocation, bit for bit
        x = (x - self.mean).div_(self.std)
        out = self.net(pixel_values=x, return_dict=True).logits if self.hf_output else self.net(x)
        if self.label_order is not None:
            out = out.index_select(1, self.label_order.to(out.device))
        return out


@dataclass
class LoadedModel:
    model_id: str
    revision: str
    classifier: Classifier
    config: dict
    folder: Path
    device: torch.device
    training: dict = field(default_factory=dict)  # the zoo's training record, when the config carries one
    loader: str = "timm"  # "timm" | "transformers"
    labels: list[str] | None = None  # class names in logit order (id2label, timm's label_names), or None

    @property
    def architecture(self) -> str:
        return self.config["architectures"][0] if self.loader == "transformers" else self.config["architecture"]

    @property
    def num_classes(self) -> int:
        if self.loader == "transformers":
            return len(self.labels or ())
        return int(self.config["num_classes"])

    @property
    def dataset(self) -> str | None:
        pretrained = self.config.get("pretrained_cfg") if isinstance(self.config.get("pretrained_cfg"), dict) else {}
        return self.training.get("dataset") or pretrained.get("dataset")

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.classifier.parameters())

    def fresh(self) -> Classifier:
        """An untrained network of the same architecture and preprocessing (for reference and shadow models)."""
        if self.loader == "transformers":
            net = _transformers_net(self.config, torch.device("cpu"))
            prep = self.classifier.preprocessing
            return Classifier(net, prep.input_size, prep.mean, prep.std, prep, hf_output=True)
        return build({k: v for k, v in self.config.items() if k != "sn_lake"})


# ------------------------------------------------------------------------------------------ weights
def _zip_format(path: Path) -> str:
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


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except SafetensorError as exc:
        raise ModelLoadError(
            f"Expected a whole safetensors file in {path} (its first bytes say safetensors), found a broken one"
            f" ({exc}): download it again."
        ) from exc


def _load_torch_checkpoint(path: Path) -> dict[str, torch.Tensor]:
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
        kind = _zip_format(path)  # torch.save's archive or Keras 3's, by what it holds rather than its name
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
    return _load_safetensors(path) if weights_kind(path) == "safetensors" else _load_torch_checkpoint(path)


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
    index = _read_json(index_path, "a sharded-safetensors index")
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


# ------------------------------------------------------------------------------------------ config checks
def _read_json(path: Path, what: str) -> dict:
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ModelLoadError(
            f"Expected {what} of at most {MAX_CONFIG_BYTES} bytes in {path}, found {size}: it is not a model's"
            " configuration."
        )
    try:
        value = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(
            f"Expected JSON in {path} ({what}), found text that is not JSON ({exc}): fix or re-save the file."
        ) from exc
    if not isinstance(value, dict):
        raise ModelLoadError(
            f"Expected {what} as a JSON object in {path}, found a JSON {type(value).__name__}: fix or re-save the file."
        )
    return value


def read_config(folder: Path) -> dict:
    """``config.json`` of a folder as a dict, or a ModelLoadError when it is missing, not JSON or not an object."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise ModelLoadError(
            f"Expected a config.json (timm or transformers format) in {folder}, found none: is this a model folder?"
        )
    return _read_json(path, "config.json")


def _contains_key(value, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(_contains_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_contains_key(v, key) for v in value)
    return False


def _int(value, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UntrustedConfigError(
            f"Expected {what} to be a whole number between {low:,} and {high:,}, found {value!r}: fix config.json."
        )
    return value


def _plain_value(key: str, value, depth: int = 0) -> None:
    """A model_args value: a number, a bool, null, a plain name, or a short list of those; never a path or URL."""
    if value is None or isinstance(value, (bool, int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise UntrustedConfigError(
                f"Expected a finite number for model_args[{key!r}], found {value!r}: fix config.json."
            )
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**31:
            raise UntrustedConfigError(f"Expected model_args[{key!r}] below 2**31, found {value}: fix config.json.")
        return
    if isinstance(value, str):
        if not PLAIN_NAME.fullmatch(value) or ".." in value:
            raise UntrustedConfigError(
                f"Expected a plain name for model_args[{key!r}], found {value[:80]!r}, which could be a path or URL: "
                "model_args may only shape the network."
            )
        return
    if isinstance(value, list) and depth < 2 and len(value) <= 64:
        for item in value:
            _plain_value(key, item, depth + 1)
        return
    raise UntrustedConfigError(
        f"Expected a number, name or short list for model_args[{key!r}], found {type(value).__name__}: fix config.json."
    )


def check_model_args(model_args) -> dict:
    """timm ``model_args`` through the allow-list (:data:`TIMM_MODEL_ARGS`), or an UntrustedConfigError."""
    if model_args is None:
        return {}
    if not isinstance(model_args, dict):
        raise UntrustedConfigError(
            f"Expected model_args as a JSON object, found {type(model_args).__name__}: fix config.json."
        )
    for key, value in model_args.items():
        if key == "num_classes":
            continue
        if key not in TIMM_MODEL_ARGS:
            raise UntrustedConfigError(
                f"Expected plain model_args (structural arguments such as {', '.join(sorted(TIMM_MODEL_ARGS)[:4])}), "
                f"found {key!r}, which evaluation never passes on: remove it from config.json."
            )
        _plain_value(key, value)
    return {k: v for k, v in model_args.items() if k != "num_classes"}


def timm_architecture(name) -> str:
    """A plain timm model name (``resnet18`` or ``resnet18.a1_in1k``) that timm ships, or an UntrustedConfigError."""
    import timm

    if not isinstance(name, str) or not TIMM_NAME.fullmatch(name):
        raise UntrustedConfigError(
            "Expected 'architecture' to be a plain timm architecture name such as 'resnet18', found"
            f" {str(name)[:80]!r} (hf-hub:, local-dir:, paths and URLs are never followed): fix config.json."
        )
    if not timm.is_model(name):
        raise UntrustedConfigError(
            f"Expected a model architecture that timm {timm.__version__} ships, found {name!r}: it is unknown to timm."
        )
    if not _timm_tag_known(name):
        raise UntrustedConfigError(
            f"Expected a pretrained tag that timm {timm.__version__} knows for {name.partition('.')[0]}, "
            f"found {name.partition('.')[2]!r}: drop the tag or fix config.json."
        )
    return name


def _timm_tag_known(name: str) -> bool:
    from timm.models import get_pretrained_cfg

    try:
        get_pretrained_cfg(name)
    except RuntimeError:  # "Invalid pretrained tag"
        return False
    return True


def _hf_registry() -> tuple[dict, dict]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES

    classes = {}
    for model_type, names in MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES.items():
        for name in names if isinstance(names, (tuple, list)) else (names,):
            if model_type != "timm_wrapper":  # timm-format configs take the timm path
                classes[name] = model_type
    return classes, CONFIG_MAPPING_NAMES


def transformers_architecture(config: dict) -> tuple[str, str]:
    """``(class name, model_type)`` of a transformers image classifier config, or an UntrustedConfigError."""
    import transformers

    if _contains_key(config, "auto_map"):
        raise UntrustedConfigError(
            "Expected a config of a class that transformers ships, found 'auto_map', which asks for the repo's own code"
            " (trust_remote_code); it was refused and nothing from the repo was imported."
        )
    archs = config.get("architectures")
    if not isinstance(archs, list) or len(archs) != 1 or not isinstance(archs[0], str):
        raise UntrustedConfigError(
            f"Expected 'architectures' to name exactly one class, found {str(archs)[:120]}: fix config.json."
        )
    name = archs[0]
    classes, config_names = _hf_registry()
    if not HF_CLASS.fullmatch(name) or name not in classes:
        hint = (
            "it is not an image classifier"
            if HF_CLASS.fullmatch(name) and "ForImageClassification" not in name
            else ("it is not a class transformers ships, and custom code is never run")
        )
        raise UntrustedConfigError(
            f"Expected an image classification class that transformers {transformers.__version__} ships, found"
            f" {name[:80]!r}: {hint}."
        )
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or model_type not in config_names:
        raise UntrustedConfigError(
            f"Expected a 'model_type' that transformers ships (for {name}), found {str(model_type)[:80]!r}: fix"
            " config.json."
        )
    if classes[name] != model_type:
        raise UntrustedConfigError(
            f"Expected the model_type of {name} ({classes[name]!r}), found {model_type!r}: config.json contradicts"
            " itself."
        )
    for key in ("use_pretrained_backbone", "use_timm_backbone", "trust_remote_code"):
        if _truthy_anywhere(config, key):
            raise UntrustedConfigError(
                f"Expected a self-contained config, found {key!r} set, which would fetch other weights or code:"
                " remove it."
            )
    if _contains_key(config, "quantization_config"):
        raise UntrustedConfigError(
            "Expected a plain float model, found 'quantization_config', which evaluation does not load: use unquantized"
            " weights."
        )
    return name, model_type


def _truthy_anywhere(value, key: str) -> bool:
    if isinstance(value, dict):
        return bool(value.get(key)) or any(_truthy_anywhere(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_truthy_anywhere(v, key) for v in value)
    return False


def transformers_labels(config: dict) -> list[str]:
    """Class names in logit order from ``id2label`` (keys 0..n-1), else ``LABEL_i`` for ``num_labels`` (default 2)."""
    id2label = config.get("id2label")
    if id2label is None:
        n = _int(config.get("num_labels", 2), "num_labels", 1, MAX_CLASSES)
        return [f"LABEL_{i}" for i in range(n)]
    if not isinstance(id2label, dict) or not 1 <= len(id2label) <= MAX_CLASSES:
        raise UntrustedConfigError(
            f"Expected id2label as an object of 1 to {MAX_CLASSES} labels, found {type(id2label).__name__}: fix"
            " config.json."
        )
    try:
        by_index = {int(k): v for k, v in id2label.items()}
    except (TypeError, ValueError) as exc:
        raise UntrustedConfigError(
            f"Expected id2label keys '0'..'{len(id2label) - 1}', found {list(id2label)[:3]}: fix config.json."
        ) from exc
    if sorted(by_index) != list(range(len(by_index))):
        raise UntrustedConfigError(
            f"Expected id2label keys '0'..'{len(id2label) - 1}', found {sorted(by_index)[:5]}...: fix config.json."
        )
    return [str(by_index[i]) for i in range(len(by_index))]


def detect_loader(config: dict) -> str:
    """``transformers`` (``architectures``), ``timm`` (``architecture``) or an error: which format a config.json is."""
    if "architectures" in config and not (
        "architecture" in config and config["architectures"] == ["TimmWrapperForImageClassification"]
    ):
        return "transformers"
    if "architecture" in config:
        return "timm"
    if "auto_map" in config:
        transformers_architecture(config)  # raises with the remote-code reason
    raise ModelLoadError(
        "Expected a timm ('architecture') or transformers ('architectures') config.json, found keys"
        f" {sorted(config)[:8]}: it is neither format."
    )


def check_budget(num_parameters: int, max_parameters: int, where: str) -> None:
    if num_parameters > max_parameters:
        raise ModelLoadError(
            f"Expected at most {max_parameters:,} parameters (SN_LAKE_MAX_PARAMETERS), found {num_parameters:,} in"
            f" {where}: raise the budget to evaluate a model this large."
        )


def _timm_spec(config: dict) -> tuple[str, int, dict]:
    if _contains_key(config, "auto_map"):
        transformers_architecture({"auto_map": True})
    try:
        architecture, num_classes = config["architecture"], config["num_classes"]
    except KeyError as exc:
        raise ModelLoadError(
            f"Expected 'architecture' and 'num_classes' in config.json, found keys {sorted(config)[:8]}: write a"
            " timm-format config."
        ) from exc
    return (
        timm_architecture(architecture),
        _int(num_classes, "num_classes", 1, MAX_CLASSES),
        check_model_args(config.get("model_args")),
    )


def _floats(value, what: str, n: int | None = None) -> tuple[float, ...]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value] * (n or 3)
    ok = (
        isinstance(value, (list, tuple))
        and 1 <= len(value) <= 4
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    )
    if not ok or (n is not None and len(value) not in (1, n)):
        raise UntrustedConfigError(
            f"Expected {what} as {n or 'a few'} numbers, found {str(value)[:80]}: fix the preprocessing config."
        )
    return tuple(float(v) for v in (value * n if n and len(value) == 1 else value))


def _timm_preprocessing(config: dict, default_cfg: dict, in_chans: int) -> Preprocessing:
    pretrained = config.get("pretrained_cfg") or {}
    if not isinstance(pretrained, dict):
        raise UntrustedConfigError(
            f"Expected pretrained_cfg as a JSON object, found {type(pretrained).__name__}: fix config.json."
        )
    input_size = pretrained.get("input_size") or default_cfg.get("input_size") or (3, 224, 224)
    if not isinstance(input_size, (list, tuple)) or len(input_size) not in (2, 3):
        raise UntrustedConfigError(
            f"Expected pretrained_cfg.input_size as [channels, height, width], found {str(input_size)[:80]}: fix"
            " config.json."
        )
    side = tuple(_int(s, "each side of input_size", 1, MAX_SIDE) for s in input_size[-2:])
    mean = _floats(pretrained.get("mean") or default_cfg.get("mean") or (0.485, 0.456, 0.406), "mean", in_chans)
    std = _floats(pretrained.get("std") or default_cfg.get("std") or (0.229, 0.224, 0.225), "std", in_chans)
    if min(std) <= 0:
        raise UntrustedConfigError(f"Expected positive std values, found {std}: fix config.json.")
    return Preprocessing(side, mean, std, in_chans=in_chans)


def _timm_head(architecture: str) -> tuple[str, ...]:
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(architecture)
    classifier = getattr(cfg, "classifier", None) if cfg is not None else None
    return tuple(classifier) if isinstance(classifier, (list, tuple)) else ((classifier,) if classifier else ())


def _check_head(shapes: dict, heads: Sequence[str], num_classes: int, where: str) -> None:
    """Every head weight the header holds has ``num_classes`` rows (a million-class config fails here, unbuilt)."""
    for head in heads:
        shape = shapes.get(f"{head}.weight")
        if shape and shape[0] != num_classes:
            raise ModelLoadError(
                f"Expected a classifier head of {num_classes} outputs ({head}.weight) as config.json says, found "
                f"shape {list(shape)} in {where}: config.json and the weights disagree."
            )


_HF_HEAD = re.compile(r"(^|\.)(cls_|distillation_)?classifier(\.\d+)?(\.linear)?\.weight$")


# ------------------------------------------------------------------------------------------ folders
@dataclass
class ModelFormat:
    """What :func:`inspect_folder` found: everything checked, nothing built."""

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


def _folder_weights(folder: Path, safetensors_only: bool) -> tuple[list[Path], dict, dict | None]:
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
        state = _load_torch_checkpoint(path)  # weights_only=True; a torch file has no header to read instead
        return [path], {k: tuple(v.shape) for k, v in state.items()}, state
    shards, shapes = _sharded(folder)
    return shards, shapes, None


def inspect_folder(folder: Path, max_parameters: int = DEFAULT_MAX_PARAMETERS) -> ModelFormat:
    """Check a model folder without building anything: its format, architecture, classes, preprocessing and
    weights' header (class count, head shape, parameter budget); a ModelLoadError says why it cannot load."""
    folder = Path(folder)
    config = read_config(folder)
    loader = detect_loader(config)
    if loader == "timm":
        import timm

        architecture, num_classes, model_args = _timm_spec(config)
        weights, shapes, state = _folder_weights(folder, safetensors_only=False)
        check_budget(count_parameters(shapes), max_parameters, weights[0].name)
        _check_head(shapes, _timm_head(architecture), num_classes, weights[0].name)
        default_cfg = timm.models.get_pretrained_cfg(architecture)
        in_chans = _int(model_args.get("in_chans", 3), "model_args.in_chans", 1, 4)
        prep = _timm_preprocessing(config, default_cfg.to_dict() if default_cfg else {}, in_chans)
        names = config.get("label_names")
        names = [str(n) for n in names] if isinstance(names, list) and len(names) == num_classes else None
        return ModelFormat(
            loader, architecture, num_classes, names, count_parameters(shapes), weights, config, prep, shapes, state
        )
    architecture, model_type = transformers_architecture(config)
    names = transformers_labels(config)
    weights, shapes, _ = _folder_weights(folder, safetensors_only=True)
    where = weights[0].name if len(weights) == 1 else SAFETENSORS_INDEX
    check_budget(count_parameters(shapes), max_parameters, where)
    heads = [k.removesuffix(".weight") for k, s in shapes.items() if _HF_HEAD.search(k) and len(s) == 2]
    if heads and all(shapes[f"{h}.weight"][0] != len(names) for h in heads):
        _check_head(shapes, heads[:1], len(names), where)
    pp_path = folder / PREPROCESSOR_CONFIG
    if not pp_path.is_file():
        raise ModelLoadError(
            f"Expected {PREPROCESSOR_CONFIG} beside the transformers config in {folder}, found none: its preprocessing"
            " is unknown."
        )
    prep = hf_preprocessing(_read_json(pp_path, PREPROCESSOR_CONFIG), model_type, config)
    return ModelFormat(
        "transformers", architecture, len(names), names, count_parameters(shapes), weights, config, prep, shapes
    )


def hf_preprocessing(pp: dict, model_type: str, config: dict | None = None) -> Preprocessing:
    """A :class:`Preprocessing` from ``preprocessor_config.json``, read by the image processor class that
    AutoImageProcessor would pick (its defaults fill absent keys); refused when its steps are not reproduced here."""
    import transformers
    from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES

    if _contains_key(pp, "auto_map"):
        raise UntrustedConfigError(
            f"Expected an image processor that transformers ships, found 'auto_map' in {PREPROCESSOR_CONFIG}: custom"
            " code is never run."
        )
    known = {}
    for entry in IMAGE_PROCESSOR_MAPPING_NAMES.values():
        for backend, name in entry.items() if isinstance(entry, dict) else [("torchvision", entry)]:
            if name:
                known[name] = name if backend != "pil" else name.removesuffix("Pil")
    declared = pp.get("image_processor_type") or pp.get("feature_extractor_type")
    if declared is not None:
        if not isinstance(declared, str) or not HF_CLASS.fullmatch(declared):
            raise UntrustedConfigError(
                f"Expected a class name as image_processor_type, found {str(declared)[:80]!r}: fix"
                f" {PREPROCESSOR_CONFIG}."
            )
        name = declared.removesuffix("Fast").replace("FeatureExtractor", "ImageProcessor")
        name = known.get(name) or known.get(name.removesuffix("Pil"))
        if name is None:
            raise UntrustedConfigError(
                f"Expected an image processor class that transformers ships, found {declared!r}: custom code is never"
                " run."
            )
    else:
        entry = IMAGE_PROCESSOR_MAPPING_NAMES.get(model_type)
        name = (
            (entry.get("torchvision") or (entry.get("pil") or "").removesuffix("Pil"))
            if isinstance(entry, dict)
            else entry
        )
        if not name:
            raise ModelLoadError(
                f"Expected an image processor for model_type {model_type!r}, found none in transformers: its"
                " preprocessing is unknown."
            )
    cls = getattr(transformers, name, None)
    if cls is None:
        raise ModelLoadError(
            f"Expected transformers to ship {name}, found it missing (torchvision not installed?): reinstall the"
            " project."
        )
    from transformers.image_processing_backends import TorchvisionBackend

    convnext = name == "ConvNextImageProcessor"
    generic = all(
        getattr(cls, f, None) is getattr(TorchvisionBackend, f, None) for f in ("_preprocess", "resize", "center_crop")
    )
    if not (generic or convnext or name in _GENERIC_PROCESSORS):
        raise ModelLoadError(
            f"Expected an image processor whose steps are resize, crop and normalize, found {name}, whose own steps are"
            " not reproduced in torch here: this model cannot be evaluated yet."
        )
    skip = {"image_processor_type", "feature_extractor_type", "processor_class", "_processor_class"}
    try:
        proc = cls(**{k: v for k, v in pp.items() if k not in skip})
    except Exception as exc:  # noqa: BLE001 - any refusal of the parameters by the class itself
        raise ModelLoadError(
            f"Expected {PREPROCESSOR_CONFIG} parameters that {name} accepts, found ones it refused ({str(exc)[:160]}):"
            " fix the file."
        ) from exc
    if (
        getattr(proc, "do_pad", None)
        or getattr(proc, "do_flip_channel_order", None)
        or getattr(proc, "rescale_offset", None)
    ):
        raise ModelLoadError(
            f"Expected resize, crop and normalize steps, found padding, channel flipping or an offset in {name}'s"
            " parameters: this preprocessing is not reproduced here."
        )
    resample = int(getattr(proc, "resample", 2) if getattr(proc, "resample", None) is not None else 2)
    if resample not in _INTERPOLATION:
        raise ModelLoadError(
            f"Expected nearest, bilinear, bicubic or lanczos resampling, found PIL code {resample} in"
            f" {PREPROCESSOR_CONFIG}: not reproduced here."
        )
    size = getattr(proc, "size", None)
    resize = shortest = crop = None
    if getattr(proc, "do_resize", False):
        if size is None:
            raise ModelLoadError(f"Expected a size to resize to in {PREPROCESSOR_CONFIG}, found none: fix the file.")
        if size.shortest_edge and not (size.longest_edge or size.max_height):
            edge = _int(size.shortest_edge, "size.shortest_edge", 1, MAX_SIDE)
            if convnext and edge < 384:
                crop_pct = float(getattr(proc, "crop_pct", 224 / 256) or 224 / 256)
                if not 0 < crop_pct <= 4:
                    raise UntrustedConfigError(
                        f"Expected crop_pct in (0, 4], found {crop_pct}: fix {PREPROCESSOR_CONFIG}."
                    )
                shortest, crop = int(edge / crop_pct), (edge, edge)
            elif convnext:
                resize = (edge, edge)
            else:
                shortest = edge
        elif size.height and size.width and not (size.shortest_edge or size.longest_edge):
            resize = (_int(size.height, "size.height", 1, MAX_SIDE), _int(size.width, "size.width", 1, MAX_SIDE))
        else:
            raise ModelLoadError(
                f"Expected size as height/width or shortest_edge in {PREPROCESSOR_CONFIG}, found {size}: not reproduced"
                " here."
            )
    if getattr(proc, "do_center_crop", False) and not crop:
        cs = getattr(proc, "crop_size", None)
        if cs is None or not (cs.height and cs.width):
            raise ModelLoadError(
                f"Expected crop_size height and width in {PREPROCESSOR_CONFIG}, found {cs}: fix the file."
            )
        crop = (_int(cs.height, "crop_size.height", 1, MAX_SIDE), _int(cs.width, "crop_size.width", 1, MAX_SIDE))
    in_chans = _int((config or {}).get("num_channels", 3), "num_channels", 1, 4)
    scale = (
        255.0 * float(proc.rescale_factor) if getattr(proc, "do_rescale", False) else 255.0
    )  # x in [0, 1] is pixel / 255
    if not scale > 0:
        raise UntrustedConfigError(
            f"Expected a positive rescale_factor, found {proc.rescale_factor}: fix {PREPROCESSOR_CONFIG}."
        )
    if getattr(proc, "do_normalize", False):
        mean = _floats(
            list(proc.image_mean) if isinstance(proc.image_mean, (list, tuple)) else proc.image_mean,
            "image_mean",
            in_chans,
        )
        std = _floats(
            list(proc.image_std) if isinstance(proc.image_std, (list, tuple)) else proc.image_std, "image_std", in_chans
        )
        if min(std) <= 0:
            raise UntrustedConfigError(f"Expected positive image_std values, found {std}: fix {PREPROCESSOR_CONFIG}.")
    else:
        mean, std = (0.0,) * in_chans, (1.0,) * in_chans
    mean, std = (
        tuple(m / scale for m in mean),
        tuple(s / scale for s in std),
    )  # (x*scale - m)/s == (x - m/scale)/(s/scale)
    image_size = (config or {}).get("image_size")
    if crop:
        input_size = crop
    elif resize:
        input_size = resize
    elif isinstance(image_size, int) and not isinstance(image_size, bool) and 0 < image_size <= MAX_SIDE:
        input_size = (image_size, image_size)
    else:
        input_size = (shortest, shortest) if shortest else (224, 224)
    return Preprocessing(
        input_size, mean, std, "transformers", resize, shortest, crop, _INTERPOLATION[resample], True, in_chans
    )


# ------------------------------------------------------------------------------------------ building
def _compare(expected: dict[str, tuple], found: dict[str, tuple], what: str, where: str, hint: str) -> None:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    resized = sorted(k for k in set(expected) & set(found) if tuple(expected[k]) != tuple(found[k]))
    if missing or unexpected or resized:
        raise ModelLoadError(
            f"Expected weights matching {what}, found {len(missing)} missing, {len(unexpected)} unexpected and"
            f" {len(resized)} differently shaped tensors (e.g. {(missing or unexpected or resized)[:3]}) in {where}:"
            f" {hint}."
        )


def _shapes(net: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _timm_net(architecture: str, num_classes: int, model_args: dict) -> nn.Module:
    import timm

    try:
        return timm.create_model(architecture, pretrained=False, num_classes=num_classes, **model_args)
    except (TypeError, ValueError, AssertionError, KeyError, RuntimeError, NotImplementedError) as exc:
        raise ModelLoadError(
            f"Expected timm to build {architecture} with model_args {model_args}, found it refused them"
            f" ({str(exc)[:160]}): fix config.json."
        ) from exc


def build(config: dict) -> Classifier:
    """An untrained network from a timm ``config.json`` (architecture, num_classes, model_args, pretrained_cfg).

    The config is checked first (:func:`timm_architecture`, :func:`check_model_args`).
    """
    import timm

    architecture, num_classes, model_args = _timm_spec(config)
    net = _timm_net(architecture, num_classes, model_args)
    default_cfg = getattr(net, "pretrained_cfg", None) or (timm.models.get_pretrained_cfg(architecture) or {})
    default_cfg = default_cfg if isinstance(default_cfg, dict) else default_cfg.to_dict()
    prep = _timm_preprocessing(config, default_cfg, int(model_args.get("in_chans", 3)))
    return Classifier(net, prep.input_size, prep.mean, prep.std, prep)


def _meta_check(make, found: dict[str, tuple], what: str, where: str) -> None:
    """Build the network on the meta device (no memory) and compare it with the weights' shapes, before a real build."""
    try:
        with torch.device("meta"):
            net = make()
    except ModelLoadError:
        raise
    except Exception:  # noqa: BLE001 - some constructors compute with tensors (.item()) and cannot run on meta
        return
    _compare(_shapes(net), found, what, where, "check config.json")


def _transformers_net(config: dict, device: torch.device) -> nn.Module:
    import transformers
    from transformers import AutoModelForImageClassification
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    name, model_type = transformers_architecture(config)
    clean = {
        k: v
        for k, v in config.items()
        if k
        not in (
            "_attn_implementation",
            "attn_implementation",
            "torch_dtype",
            "dtype",
            "_name_or_path",
            "transformers_version",
        )
    }
    try:
        hf_config = CONFIG_MAPPING[model_type].from_dict(clean)
    except Exception as exc:  # noqa: BLE001 - the config class refusing its values
        raise ModelLoadError(
            f"Expected a {model_type} config that transformers accepts, found one it refused ({str(exc)[:160]}): fix"
            " config.json."
        ) from exc
    try:
        with device:
            net = AutoModelForImageClassification.from_config(
                hf_config, attn_implementation="eager", trust_remote_code=False
            )
            if type(net).__name__ != name:  # a model_type with several heads (DeiT with a teacher): the named class
                net = getattr(transformers, name)._from_config(hf_config, attn_implementation="eager")
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - a config transformers cannot build from
        raise ModelLoadError(
            f"Expected transformers to build {name} from config.json, found it could not ({str(exc)[:160]}): fix"
            " config.json."
        ) from exc
    return net.float()


def _hf_key_map(net: nn.Module, keys: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Checkpoint key -> the network's key, by the pinned transformers' own renamings for this class (checkpoints keep
    older names: ``vit.encoder.layer.0`` for ``vit.layers.0``); also the keys that need a tensor conversion."""
    from transformers.conversion_mapping import get_model_conversion_mapping
    from transformers.core_model_loading import WeightConverter, WeightRenaming, rename_source_key

    transforms = get_model_conversion_mapping(net)
    renamings = [t for t in transforms if isinstance(t, WeightRenaming)]
    converters = [t for t in transforms if isinstance(t, WeightConverter)]
    expected = {k: None for k in net.state_dict()}
    mapping, converted = {}, []
    for key in keys:
        new, pattern = rename_source_key(key, renamings, converters, getattr(net, "base_model_prefix", None), expected)
        mapping[key] = new
        if pattern is not None:
            converted.append(key)
    return mapping, converted


def _load_transformers(folder: Path, fmt: ModelFormat, where: str) -> Classifier:
    """Build the checked transformers network (meta first, compared with the header) and fill it from safetensors."""
    import transformers

    renamed = None
    try:
        with torch.device("meta"):
            meta_net = _transformers_net(fmt.config, torch.device("meta"))
        mapping, converted = _hf_key_map(meta_net, fmt.shapes)
        if not converted:
            renamed = {mapping[k]: s for k, s in fmt.shapes.items()}
            _compare(_shapes(meta_net), renamed, fmt.architecture, where, "check config.json")
    except ModelLoadError:
        raise
    except Exception:  # noqa: BLE001 - a constructor that cannot run on meta: the real build is compared below
        pass
    net = _transformers_net(fmt.config, torch.device("cpu"))
    mapping, converted = _hf_key_map(net, fmt.shapes)
    if converted:  # fused or split tensors (DINOv2's q/k/v): transformers' own loader converts them, from safetensors
        hf_config = net.config
        try:
            net, info = getattr(transformers, fmt.architecture).from_pretrained(
                str(folder),
                config=hf_config,
                use_safetensors=True,
                local_files_only=True,
                trust_remote_code=False,
                attn_implementation="eager",
                output_loading_info=True,
                dtype=torch.float32,
            )
        except Exception as exc:  # noqa: BLE001 - transformers refusing the weights
            raise ModelLoadError(
                f"Expected transformers to convert the weights of {fmt.architecture} in {where}, found it "
                f"could not ({str(exc)[:160]}): check config.json."
            ) from exc
        problems = {k: v for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
        if problems:
            raise ModelLoadError(
                f"Expected weights matching {fmt.architecture}, found"
                f" {', '.join(f'{len(v)} {k}' for k, v in problems.items())} (e.g."
                f" {sorted(next(iter(problems.values())))[:3]}) in {where}: check config.json."
            )
    else:
        state = {}
        for path in fmt.weights:
            state.update({mapping[k]: v for k, v in _load_safetensors(path).items()})
        _compare(
            _shapes(net), {k: tuple(v.shape) for k, v in state.items()}, fmt.architecture, where, "check config.json"
        )
        net.load_state_dict(state)
    prep = fmt.preprocessing
    return Classifier(net.float(), prep.input_size, prep.mean, prep.std, prep, hf_output=True)


def _ready(classifier: Classifier, device: torch.device) -> Classifier:
    classifier.eval().to(device)
    for p in classifier.parameters():
        p.requires_grad_(False)
    return classifier


def load_folder(
    folder: Path,
    device: torch.device,
    model_id: str | None = None,
    revision: str | None = None,
    max_parameters: int | None = None,
    settings: Settings | None = None,
) -> LoadedModel:
    """Check (:func:`inspect_folder`), build and fill a timm or transformers folder's network (never running its code).

    The parameter budget is ``max_parameters``, else ``settings.max_parameters`` (``SN_LAKE_MAX_PARAMETERS``), else 1e9.
    """
    folder = Path(folder)
    if max_parameters is None:
        max_parameters = getattr(settings, "max_parameters", None) or DEFAULT_MAX_PARAMETERS
    fmt = inspect_folder(folder, max_parameters)
    where = fmt.weights[0].name if len(fmt.weights) == 1 else SAFETENSORS_INDEX
    if fmt.loader == "transformers":
        classifier = _load_transformers(folder, fmt, where)
    else:
        _, _, model_args = _timm_spec(fmt.config)
        what = f"{fmt.architecture} with {fmt.config.get('model_args', {})}"
        _meta_check(lambda: _timm_net(fmt.architecture, fmt.num_classes, model_args), fmt.shapes, what, where)
        classifier = build(fmt.config)
        state = fmt.state if fmt.state is not None else _load_safetensors(fmt.weights[0])
        _compare(
            _shapes(classifier.net), {k: tuple(v.shape) for k, v in state.items()}, what, where, "check config.json"
        )
        classifier.net.load_state_dict(state)
    return LoadedModel(
        model_id=model_id or f"local:{folder.name}",
        revision=revision or lake.file_sha256(fmt.weights[0])[:12],
        classifier=_ready(classifier, device),
        config=fmt.config,
        folder=folder,
        device=device,
        training=fmt.config.get("sn_lake", {}) if isinstance(fmt.config.get("sn_lake"), dict) else {},
        loader=fmt.loader,
        labels=fmt.labels,
    )


def fresh_like(loaded: LoadedModel) -> Classifier:
    """An untrained copy of ``loaded``'s network and preprocessing (:meth:`LoadedModel.fresh`)."""
    return loaded.fresh()


def align_labels(loaded: LoadedModel, splits) -> list[int] | None:
    """Make ``loaded``'s logits follow ``splits``' class order (its ``labels``, else the built-in names of its dataset);
    raises :class:`LabelMismatch` with the reason when they cannot be matched. Returns the permutation (None: as is)."""
    names = getattr(splits, "labels", None) or labels_mod.canonical_names(getattr(splits, "name", None))
    order = labels_mod.align(loaded.labels, list(names) if names else None, loaded.num_classes, splits.num_classes)
    loaded.classifier.set_label_order(order)
    return order


# ------------------------------------------------------------------------------------------ sources
def download_hub_repo(settings: Settings, repo_id: str, revision: str | None = None) -> tuple[Path, str]:
    """Download a Hub repo's configs and weights (HF_ENDPOINT and HF_TOKEN apply); returns the folder and commit."""
    from huggingface_hub import snapshot_download

    folder = Path(
        snapshot_download(
            repo_id,
            revision=revision,
            endpoint=settings.hf_endpoint,
            token=settings.hf_token or False,
            cache_dir=str(settings.home / "hub_cache"),
            allow_patterns=[
                "config.json",
                "README.md",
                PREPROCESSOR_CONFIG,
                SAFETENSORS_INDEX,
                "*.safetensors",
                *(f"*{s}" for s in RAW_CHECKPOINT_SUFFIXES),
            ],
        )
    )
    return folder, folder.name  # snapshots/<commit sha>


KAGGLE_FRAMEWORKS = {"pyTorch", "transformers", "other"}  # instances that can hold PyTorch weights
_KAGGLE_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_TIMM_USAGE = re.compile(r"timm\.create_model\(\s*['\"]([A-Za-z0-9_.]+)['\"]")


def kaggle_cache_dir(settings: Settings) -> Path:
    return settings.home / "kaggle_cache"


def _kaggle_handle(native: str) -> tuple[str, str, str, str]:
    parts = native.split("/")
    if len(parts) != 4 or not all(_KAGGLE_SLUG.fullmatch(p) and ".." not in p for p in parts):
        raise ModelLoadError(
            f"Expected a Kaggle instance as owner/model/framework/variation, found {native!r}: use the handle Kaggle"
            " shows."
        )
    return parts[0], parts[1], parts[2], parts[3]


def _extract(archive: Path, dest: Path, max_bytes: int) -> None:
    """Unpack a tar(.gz) or zip download into ``dest``.

    Regular files only, no absolute or ``..`` paths, at most ``max_bytes`` in all.
    """
    with archive.open("rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PK\x03\x04"):
        try:
            kind = _zip_format(archive)  # the download itself is one torch.save or Keras file, not a folder
        except ModelLoadError:
            kind = None
        if kind is not None:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(archive, dest / ("model.bin" if kind == "pytorch-state-dict" else "model.keras"))
            return
        with zipfile.ZipFile(archive) as z:
            entries = [(i.filename, i.file_size, i.is_dir(), lambda i=i: z.open(i)) for i in z.infolist()]
            _write_entries(entries, dest, max_bytes, archive)
        return
    try:
        tar = tarfile.open(archive, mode="r:*")
    except tarfile.TarError:
        tar = None
    if tar is None:  # a single file, as downloaded
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(archive, dest / "model.bin")
        return
    with tar:
        entries = []
        for member in tar:
            if not (member.isfile() or member.isdir()):
                raise ModelLoadError(
                    f"Expected only files and folders in the Kaggle archive {archive.name}, found a link or device"
                    f" {member.name!r}: refused."
                )
            entries.append((member.name, member.size, member.isdir(), lambda m=member: tar.extractfile(m)))
        _write_entries(entries, dest, max_bytes, archive)


def _write_entries(entries, dest: Path, max_bytes: int, archive: Path) -> None:
    total = 0
    root = dest.resolve()
    for name, size, is_dir, opener in entries:
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts or not name.strip("/"):
            raise ModelLoadError(
                f"Expected relative paths inside the Kaggle archive {archive.name}, found {name!r}: refused."
            )
        target = (dest / rel).resolve()
        if root not in target.parents and target != root:
            raise ModelLoadError(
                f"Expected every entry of {archive.name} inside its folder, found {name!r} pointing outside: refused."
            )
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        total += size
        if total > max_bytes:
            raise ModelLoadError(
                f"Expected at most {max_bytes:,} bytes in the Kaggle archive {archive.name}, found more: the model is"
                " over budget."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        with opener() as src, target.open("wb") as out:
            shutil.copyfileobj(src, out)


def _model_root(folder: Path) -> Path:
    """The folder holding the files: ``folder`` itself or the single folder an archive wrapped them in."""
    while True:
        children = [p for p in folder.iterdir() if not p.name.startswith(".")]
        if len(children) == 1 and children[0].is_dir():
            folder = children[0]
        else:
            return folder


def download_kaggle_instance(settings: Settings, native: str) -> tuple[Path, str, dict]:
    """Download a Kaggle model instance's latest version with kagglesdk (cached under ``$SN_LAKE_HOME/kaggle_cache``).

    Returns the folder holding its files, the version number, and the instance's metadata.
    """
    from kagglesdk.models.types.model_api_service import ApiDownloadModelInstanceVersionRequest
    from kagglesdk.models.types.model_enums import ModelFramework

    from sn_lake import http_client as http
    from sn_lake import kaggle_client as kaggle

    owner, model, framework, variation = _kaggle_handle(native)
    if framework not in KAGGLE_FRAMEWORKS:
        raise ModelLoadError(
            f"Expected a Kaggle instance in PyTorch or transformers format, found the framework {framework!r}: only"
            " PyTorch weights are evaluated."
        )
    api = kaggle.KaggleModels(settings)
    try:
        instances = api.list_instances(owner, model)
        instance = next(
            (
                i
                for i in instances or []
                if i.get("slug") == variation and kaggle.framework_handle(i.get("framework")) == framework
            ),
            None,
        )
        if instance is None:
            raise ModelLoadError(
                f"Expected the Kaggle instance {native} among {owner}/{model}'s instances, found it missing: check the"
                " handle."
            )
        version = int(instance.get("versionNumber") or 1)
        meta = {"owner": owner, "model_slug": model, "instance": instance, "model": api.get_model(owner, model) or {}}
        folder = kaggle_cache_dir(settings) / owner / model / framework / variation / str(version)
        if (folder / ".complete").is_file():
            return _model_root(folder / "files"), str(version), meta
        request = ApiDownloadModelInstanceVersionRequest()
        request.owner_slug, request.model_slug, request.instance_slug = owner, model, variation
        request.framework, request.version_number = ModelFramework[instance["framework"]], version
        download = api.client.models.model_api_client.download_model_instance_version
        budget = settings.max_parameters * 4 + 64 * 2**20  # float32 weights of the largest model evaluated, plus files
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        archive = folder / "download"

        def fetch() -> None:
            response = download(request)
            written = 0
            with archive.open("wb") as out:
                for chunk in response.iter_content(2**20):
                    written += len(chunk)
                    if written > budget:
                        raise ModelLoadError(
                            f"Expected at most {budget:,} bytes from Kaggle for {native}, found more: the model is over"
                            " budget."
                        )
                    out.write(chunk)

        try:
            http.call_with_retries(
                fetch,
                retryable=kaggle._is_retryable,
                wait_hint=kaggle._wait_hint,
                policy=api.policy,
                describe=f"download of Kaggle instance {native}",
            )
        except (http.HttpError, OSError) as exc:
            raise ModelLoadError(
                f"Expected Kaggle to send the files of {native} (version {version}), found an error ({str(exc)[:200]}):"
                " try again later."
            ) from exc
        except Exception as exc:  # noqa: BLE001 - requests' HTTPError for a 4xx, with the status in the message
            if isinstance(exc, ModelLoadError):
                raise
            raise ModelLoadError(
                f"Expected Kaggle to send the files of {native} (version {version}), found {str(exc)[:200]}: check"
                " KAGGLE_API_TOKEN and the handle."
            ) from exc
        try:
            _extract(archive, folder / "files", budget)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
            raise ModelLoadError(
                f"Expected a whole archive of {native}'s files from Kaggle, found a damaged one ({str(exc)[:160]}): "
                "download it again."
            ) from exc
        archive.unlink()
        (folder / ".complete").write_text(json.dumps({"version": version}))
        return _model_root(folder / "files"), str(version), meta
    except kaggle.KaggleError as exc:
        raise ModelLoadError(f"Expected Kaggle to describe {native}, found an error: {exc}") from exc
    finally:
        api.close()


def timm_name_candidates(meta: dict) -> list[str]:
    """timm architectures a Kaggle instance's metadata may name: a ``timm.create_model('...')`` in its usage or
    overview, then its variation slug and model slug (``resnet18-a1-in1k`` -> ``resnet18.a1_in1k``, ``resnet18``)."""
    import timm

    instance = meta.get("instance") or {}
    texts = (
        " ".join(str(instance.get(k) or "") for k in ("usage", "overview"))
        + " "
        + str((meta.get("model") or {}).get("description") or "")
    )
    names = _TIMM_USAGE.findall(texts)
    for slug in (instance.get("slug"), meta.get("model_slug")):
        words = [w for w in re.split(r"[-_]", str(slug or "").lower()) if w]
        for n in range(len(words), 0, -1):
            head, tail = "_".join(words[:n]), "_".join(words[n:])
            names += [f"{head}.{tail}" if tail else head, head]
    out = []
    for name in names:
        if TIMM_NAME.fullmatch(name) and timm.is_model(name) and _timm_tag_known(name) and name not in out:
            out.append(name)
    return out


def _derive_timm_config(folder: Path, meta: dict) -> None:
    """Write a timm ``config.json`` for a bare state dict: the first timm architecture from the metadata it fits."""
    import timm

    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix in (".safetensors", *RAW_CHECKPOINT_SUFFIXES)
    )
    if len(files) != 1:
        present = sorted(p.name for p in folder.iterdir())[:8]
        kinds = [
            k
            for s, k in (
                ("saved_model.pb", "a TensorFlow SavedModel"),
                (".keras", "a Keras model"),
                (".h5", "Keras/HDF5 weights"),
                (".tflite", "a TFLite model"),
                (".onnx", "an ONNX model"),
                (".gguf", "a GGUF model"),
            )
            if any(n.endswith(s) for n in present)
        ]
        raise ModelLoadError(
            "Expected a config.json or one PyTorch weights file in the Kaggle instance, found"
            f" {kinds[0] if kinds else present or 'no files'}: only timm, transformers or plain timm state dicts are"
            " evaluated."
        )
    kind = weights_kind(files[0])
    shapes = (
        safetensors_header(files[0])
        if kind == "safetensors"
        else {k: tuple(v.shape) for k, v in _load_torch_checkpoint(files[0]).items()}
    )
    candidates = timm_name_candidates(meta)
    if not candidates:
        raise ModelLoadError(
            f"Expected the Kaggle metadata (variation {meta.get('instance', {}).get('slug')!r}, model"
            f" {meta.get('model_slug')!r}) to name a timm architecture for its bare state dict, found none: the network"
            " to build is unknown."
        )
    tried = []
    for name in candidates:
        heads = [h for h in _timm_head(name) if f"{h}.weight" in shapes]
        if not heads:
            tried.append(f"{name} (no {'/'.join(_timm_head(name)) or 'head'} weights)")
            continue
        num_classes = shapes[f"{heads[0]}.weight"][0]
        try:
            with torch.device("meta"):
                net = timm.create_model(name, pretrained=False, num_classes=num_classes)
        except Exception as exc:  # noqa: BLE001 - a constructor that cannot run on meta: try it for real below
            tried.append(f"{name} ({type(exc).__name__})")
            continue
        if _shapes(net) == shapes:
            cfg = timm.models.get_pretrained_cfg(name)
            cfg = cfg.to_dict() if cfg else {}
            pretrained = {k: cfg[k] for k in ("input_size", "mean", "std") if cfg.get(k) is not None}
            config = {
                "architecture": name,
                "num_classes": num_classes,
                "pretrained_cfg": pretrained,
                "sn_lake_derived": "architecture from the Kaggle instance's metadata",
            }
            (folder / "config.json").write_text(json.dumps(config, indent=1))
            return
        tried.append(f"{name} (tensors differ)")
    raise ModelLoadError(
        "Expected the bare state dict to fit a timm architecture the metadata names, found none that fits:"
        f" {tried[:4]}."
    )


def load_kaggle(settings: Settings, native: str, device: torch.device, model_id: str) -> LoadedModel:
    """Download a Kaggle instance and load it as a timm or transformers folder (a bare state dict: a derived config)."""
    folder, version, meta = download_kaggle_instance(settings, native)
    if not (folder / "config.json").is_file():
        _derive_timm_config(folder, meta)
    return load_folder(folder, device, model_id=model_id, revision=version, max_parameters=settings.max_parameters)


def zoo_dir(settings: Settings) -> Path:
    return settings.home / "zoo"


def load(model_id: str, settings: Settings, device: torch.device | None = None) -> LoadedModel:
    """Load ``local:<name>`` (the zoo / a folder under ``$SN_LAKE_HOME/zoo``), ``huggingface:<repo id>[@rev]`` or
    ``kaggle:<owner>/<model>/<framework>/<variation>``."""
    device = device or resolve_device(settings)
    source, _, native = model_id.partition(":")
    budget = getattr(settings, "max_parameters", DEFAULT_MAX_PARAMETERS)
    if source == "local":
        folder = zoo_dir(settings) / native
        if not native or "/" in native or native.startswith(".") or not folder.is_dir():
            raise ModelLoadError(
                f"Expected the local model {native!r} in {folder}, found no such folder: run `sn-lake zoo build`."
            )
        return load_folder(folder, device, model_id=model_id, max_parameters=budget)
    if source == "huggingface":
        repo_id, _, revision = native.partition("@")
        try:
            folder, commit = download_hub_repo(settings, repo_id, revision or None)
        except Exception as exc:  # noqa: BLE001 - huggingface_hub's errors (404, 401, network) as one sentence
            raise ModelLoadError(
                f"Expected to download the Hub repo {repo_id!r}, found an error ({str(exc).splitlines()[0][:200]}): "
                "check the id, HF_ENDPOINT and HF_TOKEN."
            ) from exc
        return load_folder(folder, device, model_id=model_id, revision=commit, max_parameters=budget)
    if source == "kaggle":
        return load_kaggle(settings, native, device, model_id)
    raise ModelLoadError(
        f"Expected a model id starting with 'local:', 'huggingface:' or 'kaggle:', found {model_id!r}: evaluate zoo,"
        " Hub or Kaggle models."
    )


__all__ = [
    "Classifier",
    "LabelMismatch",
    "LoadedModel",
    "ModelFormat",
    "ModelLoadError",
    "Preprocessing",
    "UnsafeCheckpointError",
    "UntrustedConfigError",
    "align_labels",
    "build",
    "fresh_like",
    "check_model_args",
    "count_parameters",
    "detect_loader",
    "download_hub_repo",
    "download_kaggle_instance",
    "hf_preprocessing",
    "inspect_folder",
    "load",
    "load_folder",
    "load_kaggle",
    "load_state_dict",
    "read_config",
    "safetensors_header",
    "timm_architecture",
    "transformers_architecture",
    "weights_kind",
]
