"""Safe model loading: timm-format folders and Hub repos, and raw checkpoints without running code.

A model is a folder in timm's Hub format: ``config.json`` (``architecture``, ``num_classes``,
``model_args``, ``pretrained_cfg`` with ``input_size``, ``mean``, ``std``) and its weights, either
``model.safetensors`` or a raw checkpoint (``.pth``, ``.ckpt``, ``.bin``). The weights' first bytes,
not their suffix, choose the loader: safetensors, or a torch.save checkpoint read only through
``torch.load(weights_only=True)``. A checkpoint that needs arbitrary code to unpickle, and any plain
pickle, is refused; nothing here ever imports or runs code shipped with a model.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from sn_lake import lake
from sn_lake.config import Settings
from sn_lake.sources.weights import SNIFF_BYTES, format_from_bytes

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.pth", "model.ckpt")
RAW_CHECKPOINT_SUFFIXES = (".pth", ".ckpt", ".bin", ".pt")


class ModelLoadError(RuntimeError):
    """A model could not be found or built from its folder."""


class UnsafeCheckpointError(ModelLoadError):
    """A checkpoint needs arbitrary code to unpickle, so it was refused without running it."""


def resolve_device(settings: Settings) -> torch.device:
    """``SN_LAKE_DEVICE``: ``cuda``, ``cpu``, or ``auto`` (CUDA when present, else CPU); also applies ``SN_LAKE_TORCH_THREADS``."""
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


class Classifier(nn.Module):
    """A network behind its own preprocessing: takes images in [0, 1], returns logits.

    Resizing to the pretrained ``input_size`` and normalizing with its ``mean``/``std`` happen
    inside, so attacks perturb and clip in [0, 1] pixel space.
    """

    def __init__(self, net: nn.Module, input_size: tuple[int, int], mean, std):
        super().__init__()
        self.net = net
        self.input_size = tuple(input_size)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.input_size:
            x = F.interpolate(x, size=self.input_size, mode="bilinear", align_corners=False)
        return self.net((x - self.mean) / self.std)


@dataclass
class LoadedModel:
    model_id: str
    revision: str
    classifier: Classifier
    config: dict
    folder: Path
    device: torch.device
    training: dict = field(default_factory=dict)  # the zoo's training record, when the config carries one

    @property
    def architecture(self) -> str:
        return self.config["architecture"]

    @property
    def num_classes(self) -> int:
        return int(self.config["num_classes"])

    @property
    def dataset(self) -> str | None:
        return self.training.get("dataset") or self.config.get("pretrained_cfg", {}).get("dataset")

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.classifier.parameters())


def _zip_format(path: Path) -> str:
    """``pytorch-state-dict`` for torch.save's zip archive, ``tensorflow`` for a Keras 3 archive, by their entries."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        raise ModelLoadError(f"Expected a whole zip archive in {path} (its first bytes say zip), found a damaged one ({exc}): download it again.") from exc
    if any(n.rpartition("/")[2] == "data.pkl" for n in names):
        return "pytorch-state-dict"
    if any(n.endswith(".weights.h5") for n in names) or {"config.json", "metadata.json"} <= set(names):
        return "tensorflow"
    raise ModelLoadError(
        f"Expected torch.save's zip archive (with a data.pkl) in {path}, found a zip of {names[:5]}: it is not a PyTorch checkpoint; "
        "use the model's safetensors or torch.save weights."
    )


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except SafetensorError as exc:
        raise ModelLoadError(f"Expected a whole safetensors file in {path} (its first bytes say safetensors), found a broken one ({exc}): download it again.") from exc


def _load_torch_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    try:
        with path.open("rb") as fh:  # a file object: torch.load would pick its loader by a path's suffix (".safetensors")
            checkpoint = torch.load(fh, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"Expected a checkpoint of plain tensors in {path}, found one that needs arbitrary code to unpickle "
            f"({str(exc).splitlines()[0][:200]}); it was refused and nothing in it ran: ask for safetensors weights."
        ) from exc
    except RuntimeError as exc:
        raise ModelLoadError(
            f"Expected a torch.save checkpoint in {path}, found one torch.load could not read ({str(exc).splitlines()[0][:200]}): "
            "download it again or ask for safetensors weights."
        ) from exc
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
    if not isinstance(checkpoint, dict) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise ModelLoadError(f"Expected a state dict (name -> tensor) in {path}, found {type(checkpoint).__name__}: save model.state_dict().")
    return {k.removeprefix("module."): v for k, v in checkpoint.items()}


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from safetensors or a torch.save checkpoint (``weights_only=True``), told apart by the file's first bytes, not its suffix."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    kind = format_from_bytes(head, path.name)
    if head.startswith(b"PK\x03\x04"):
        kind = _zip_format(path)  # torch.save's archive or Keras 3's, by what it holds rather than its name
    if kind == "safetensors":
        return _load_safetensors(path)
    if kind == "pytorch-state-dict":
        return _load_torch_checkpoint(path)
    if kind == "pickle":
        raise UnsafeCheckpointError(
            f"Expected safetensors or a torch.save checkpoint in {path}, found a plain pickle, which can run arbitrary code when "
            "unpickled; it was refused without unpickling: ask for safetensors weights."
        )
    if kind == "tensorflow":
        container = "HDF5" if head.startswith(b"\x89HDF") else "a Keras archive"
        raise ModelLoadError(
            f"Expected PyTorch weights (safetensors or torch.save) in {path}, found TensorFlow/Keras weights ({container}), which is not "
            "a PyTorch format: use the model's PyTorch or safetensors weights."
        )
    raise ModelLoadError(
        f"Expected safetensors or a torch.save checkpoint in {path}, found bytes of neither (first bytes {head[:16].hex() or 'none: the file is empty'}): "
        "use the model's safetensors or torch.save weights."
    )


def weights_file(folder: Path) -> Path:
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raw = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", *RAW_CHECKPOINT_SUFFIXES))
    if not raw:
        raise ModelLoadError(f"Expected weights ({', '.join(WEIGHT_FILES)}) in {folder}, found none: add model.safetensors.")
    return raw[0]


def build(config: dict) -> Classifier:
    """An untrained network from a timm ``config.json`` (architecture, num_classes, model_args, pretrained_cfg)."""
    import timm

    try:
        architecture, num_classes = config["architecture"], int(config["num_classes"])
    except KeyError as exc:
        raise ModelLoadError(f"Expected 'architecture' and 'num_classes' in config.json, found keys {sorted(config)}: write a timm-format config.") from exc
    model_args = {k: v for k, v in config.get("model_args", {}).items() if k != "num_classes"}
    net = timm.create_model(architecture, pretrained=False, num_classes=num_classes, **model_args)
    pretrained = config.get("pretrained_cfg", {})
    input_size = pretrained.get("input_size") or net.pretrained_cfg.get("input_size") or (3, 224, 224)
    mean = pretrained.get("mean") or net.pretrained_cfg.get("mean")
    std = pretrained.get("std") or net.pretrained_cfg.get("std")
    return Classifier(net, tuple(input_size[-2:]), mean, std)


def load_folder(folder: Path, device: torch.device, model_id: str | None = None, revision: str | None = None) -> LoadedModel:
    """Build the network a timm-format folder describes and load its weights (never running its code)."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelLoadError(f"Expected a timm-format config.json in {folder}, found none: is this a model folder?")
    config = json.loads(config_path.read_text())
    weights = weights_file(folder)
    state = load_state_dict(weights)
    classifier = build(config)
    expected = classifier.net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    resized = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or resized:
        raise ModelLoadError(
            f"Expected weights matching {config['architecture']} with {config.get('model_args', {})}, found "
            f"{len(missing)} missing, {len(unexpected)} unexpected and {len(resized)} differently shaped tensors "
            f"(e.g. {(missing or unexpected or resized)[:3]}) in {weights.name}: check config.json."
        )
    classifier.net.load_state_dict(state)
    classifier.eval().to(device)
    for p in classifier.parameters():
        p.requires_grad_(False)
    return LoadedModel(
        model_id=model_id or f"local:{folder.name}",
        revision=revision or lake.file_sha256(weights)[:12],
        classifier=classifier,
        config=config,
        folder=folder,
        device=device,
        training=config.get("sn_lake", {}),
    )


def download_hub_repo(settings: Settings, repo_id: str, revision: str | None = None) -> tuple[Path, str]:
    """Download a Hub repo's config and weights (HF_ENDPOINT and HF_TOKEN apply); returns the folder and commit."""
    from huggingface_hub import snapshot_download

    folder = Path(
        snapshot_download(
            repo_id,
            revision=revision,
            endpoint=settings.hf_endpoint,
            token=settings.hf_token or False,
            cache_dir=str(settings.home / "hub_cache"),
            allow_patterns=["config.json", "README.md", "*.safetensors", *(f"*{s}" for s in RAW_CHECKPOINT_SUFFIXES)],
        )
    )
    return folder, folder.name  # snapshots/<commit sha>


def zoo_dir(settings: Settings) -> Path:
    return settings.home / "zoo"


def load(model_id: str, settings: Settings, device: torch.device | None = None) -> LoadedModel:
    """Load ``local:<name>`` (the zoo / a folder under ``$SN_LAKE_HOME/zoo``) or ``huggingface:<repo id>[@rev]``."""
    device = device or resolve_device(settings)
    source, _, native = model_id.partition(":")
    if source == "local":
        folder = zoo_dir(settings) / native
        if not folder.is_dir():
            raise ModelLoadError(f"Expected the local model {native!r} in {folder}, found no such folder: run `sn-lake zoo build`.")
        return load_folder(folder, device, model_id=model_id)
    if source == "huggingface":
        repo_id, _, revision = native.partition("@")
        folder, commit = download_hub_repo(settings, repo_id, revision or None)
        return load_folder(folder, device, model_id=model_id, revision=commit)
    raise ModelLoadError(f"Expected a model id starting with 'local:' or 'huggingface:', found {model_id!r}: evaluate zoo or Hub models.")
