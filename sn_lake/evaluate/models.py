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

This module is the entry point (:func:`load`, :func:`load_folder`, :func:`inspect_folder`, :class:`LoadedModel`);
each job lives in its own module beside it:

* :mod:`~sn_lake.evaluate.model_config`: config.json read and checked (torch-free);
* :mod:`~sn_lake.evaluate.model_files`: weights files: which, what format by their bytes, headers, safe loading;
* :mod:`~sn_lake.evaluate.classifier`: :class:`Classifier` and its :class:`Preprocessing`;
* :mod:`~sn_lake.evaluate.timm_loader` and :mod:`~sn_lake.evaluate.transformers_loader`: each format's checks,
  preprocessing and build;
* :mod:`~sn_lake.evaluate.hub_download` and :mod:`~sn_lake.evaluate.kaggle_download`: getting the files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from sn_lake import lake
from sn_lake.config import Settings
from sn_lake.evaluate import labels as labels_mod
from sn_lake.evaluate.classifier import Classifier, Preprocessing
from sn_lake.evaluate.hub_download import download_hub_repo
from sn_lake.evaluate.kaggle_download import derive_timm_config, download_kaggle_instance
from sn_lake.evaluate.labels import LabelMismatch
from sn_lake.evaluate.model_config import (
    UntrustedConfigError,
    check_model_args,
    detect_loader,
    read_config,
    timm_architecture,
    transformers_architecture,
)
from sn_lake.evaluate.model_files import (
    SAFETENSORS_INDEX,
    ModelFormat,
    UnsafeCheckpointError,
    count_parameters,
    load_state_dict,
    safetensors_header,
    weights_kind,
)
from sn_lake.evaluate.models_errors import ModelLoadError  # torch-free, so labels can raise it too
from sn_lake.evaluate.timm_loader import build, inspect_timm, load_timm
from sn_lake.evaluate.transformers_loader import (
    hf_preprocessing,
    inspect_transformers,
    load_transformers,
    transformers_net,
)

DEFAULT_MAX_PARAMETERS = Settings.max_parameters  # SN_LAKE_MAX_PARAMETERS' default (sn_lake/config.py)


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
            net = transformers_net(self.config, torch.device("cpu"))
            prep = self.classifier.preprocessing
            return Classifier(net, prep.input_size, prep.mean, prep.std, prep, hf_output=True)
        return build({k: v for k, v in self.config.items() if k != "sn_lake"})


def inspect_folder(folder: Path, max_parameters: int = DEFAULT_MAX_PARAMETERS) -> ModelFormat:
    """Check a model folder without building anything: its format, architecture, classes, preprocessing and
    weights' header (class count, head shape, parameter budget); a ModelLoadError says why it cannot load."""
    folder = Path(folder)
    config = read_config(folder)
    if detect_loader(config) == "timm":
        return inspect_timm(folder, config, max_parameters)
    return inspect_transformers(folder, config, max_parameters)


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
        classifier = load_transformers(folder, fmt, where)
    else:
        classifier = load_timm(fmt, where)
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


def load_kaggle(settings: Settings, native: str, device: torch.device, model_id: str) -> LoadedModel:
    """Download a Kaggle instance and load it as a timm or transformers folder (a bare state dict: a derived config)."""
    folder, version, meta = download_kaggle_instance(settings, native)
    if not (folder / "config.json").is_file():
        derive_timm_config(folder, meta)
    return load_folder(folder, device, model_id=model_id, revision=version, max_parameters=settings.max_parameters)


def load(model_id: str, settings: Settings, device: torch.device | None = None) -> LoadedModel:
    """Load ``local:<name>`` (the zoo / a folder under ``$SN_LAKE_HOME/zoo``), ``huggingface:<repo id>[@rev]`` or
    ``kaggle:<owner>/<model>/<framework>/<variation>``."""
    device = device or resolve_device(settings)
    source, _, native = model_id.partition(":")
    budget = getattr(settings, "max_parameters", DEFAULT_MAX_PARAMETERS)
    if source == "local":
        folder = lake.zoo_root(settings) / native
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


# the entry point's public names, as before the split; several are re-exported from the modules they live in
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
