"""transformers folders: ``config.json`` whose ``architectures`` is one ``*ForImageClassification`` class that the
pinned transformers ships, ``model.safetensors`` or a sharded ``model.safetensors.index.json``, and
``preprocessor_config.json``.

The network is built with ``AutoModelForImageClassification.from_config`` (never ``trust_remote_code``: a config
with ``auto_map`` is refused and no file of the repo is ever imported); the checked weights are loaded here. The
image processor's parameters (its class's defaults where a key is absent) become a :class:`Preprocessing`, so
its steps run as torch operations inside the :class:`Classifier`. transformers is imported only inside the
functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn as nn

from sn_lake.evaluate.classifier import Classifier, Preprocessing
from sn_lake.evaluate.model_config import (
    HF_CLASS,
    MAX_SIDE,
    PREPROCESSOR_CONFIG,
    UntrustedConfigError,
    check_budget,
    contains_key,
    floats,
    read_json,
    transformers_architecture,
    transformers_labels,
    whole_number,
)
from sn_lake.evaluate.model_files import (
    SAFETENSORS_INDEX,
    ModelFormat,
    check_head,
    compare_shapes,
    count_parameters,
    folder_weights,
    load_safetensors,
    net_shapes,
)
from sn_lake.evaluate.models_errors import ModelLoadError

_INTERPOLATION = {0: "nearest-exact", 1: "bicubic", 2: "bilinear", 3: "bicubic"}  # PIL codes; LANCZOS ~ bicubic
# image processors whose pixel path is the generic resize -> center crop -> rescale -> normalize
_GENERIC_PROCESSORS = {"BeitImageProcessor", "MobileNetV2ImageProcessor"}  # they only add segmentation-map steps
_HF_HEAD = re.compile(r"(^|\.)(cls_|distillation_)?classifier(\.\d+)?(\.linear)?\.weight$")


def inspect_transformers(folder: Path, config: dict, max_parameters: int) -> ModelFormat:
    """Check a transformers folder (its ``config``, already read): class, labels, weights' header, head, budget and
    the preprocessing of its ``preprocessor_config.json``."""
    architecture, model_type = transformers_architecture(config)
    names = transformers_labels(config)
    weights, shapes, _ = folder_weights(folder, safetensors_only=True)
    where = weights[0].name if len(weights) == 1 else SAFETENSORS_INDEX
    check_budget(count_parameters(shapes), max_parameters, where)
    heads = [k.removesuffix(".weight") for k, s in shapes.items() if _HF_HEAD.search(k) and len(s) == 2]
    if heads and all(shapes[f"{h}.weight"][0] != len(names) for h in heads):
        check_head(shapes, heads[:1], len(names), where)
    pp_path = folder / PREPROCESSOR_CONFIG
    if not pp_path.is_file():
        raise ModelLoadError(
            f"Expected {PREPROCESSOR_CONFIG} beside the transformers config in {folder}, found none: its preprocessing"
            " is unknown."
        )
    prep = hf_preprocessing(read_json(pp_path, PREPROCESSOR_CONFIG), model_type, config)
    return ModelFormat(
        "transformers", architecture, len(names), names, count_parameters(shapes), weights, config, prep, shapes
    )


def hf_preprocessing(pp: dict, model_type: str, config: dict | None = None) -> Preprocessing:
    """A :class:`Preprocessing` from ``preprocessor_config.json``, read by the image processor class that
    AutoImageProcessor would pick (its defaults fill absent keys); refused when its steps are not reproduced here."""
    name, cls = _processor_class(pp, model_type)
    proc = _processor(cls, name, pp)
    resample = _resample_code(proc)
    resize, shortest, crop = _resize_steps(proc, convnext=name == "ConvNextImageProcessor")
    crop = crop or _center_crop_size(proc)
    in_chans = whole_number((config or {}).get("num_channels", 3), "num_channels", 1, 4)
    mean, std = _normalization(proc, in_chans)
    input_size = _input_size(crop, resize, shortest, config)
    return Preprocessing(
        input_size, mean, std, "transformers", resize, shortest, crop, _INTERPOLATION[resample], True, in_chans
    )


def _processor_class(pp: dict, model_type: str) -> tuple[str, type]:
    """The name and class of the image processor AutoImageProcessor would pick, refused when it is custom code or
    when its steps are not resize, crop and normalize."""
    import transformers
    from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES

    if contains_key(pp, "auto_map"):
        raise UntrustedConfigError(
            f"Expected an image processor that transformers ships, found 'auto_map' in {PREPROCESSOR_CONFIG}: custom"
            " code is never run."
        )
    name = _processor_name(pp, model_type, IMAGE_PROCESSOR_MAPPING_NAMES)
    cls = getattr(transformers, name, None)
    if cls is None:
        raise ModelLoadError(
            f"Expected transformers to ship {name}, found it missing (torchvision not installed?): reinstall the"
            " project."
        )
    from transformers.image_processing_backends import TorchvisionBackend

    generic = all(
        getattr(cls, f, None) is getattr(TorchvisionBackend, f, None) for f in ("_preprocess", "resize", "center_crop")
    )
    if not (generic or name == "ConvNextImageProcessor" or name in _GENERIC_PROCESSORS):
        raise ModelLoadError(
            f"Expected an image processor whose steps are resize, crop and normalize, found {name}, whose own steps are"
            " not reproduced in torch here: this model cannot be evaluated yet."
        )
    return name, cls


def _processor_name(pp: dict, model_type: str, mapping: dict) -> str:
    """The class ``pp`` declares (``image_processor_type``, or an old ``feature_extractor_type``) when transformers
    ships it, else the default image processor of ``model_type``."""
    declared = pp.get("image_processor_type") or pp.get("feature_extractor_type")
    if declared is None:
        return _default_processor_name(model_type, mapping)
    if not isinstance(declared, str) or not HF_CLASS.fullmatch(declared):
        raise UntrustedConfigError(
            f"Expected a class name as image_processor_type, found {str(declared)[:80]!r}: fix {PREPROCESSOR_CONFIG}."
        )
    known = _known_processors(mapping)
    name = declared.removesuffix("Fast").replace("FeatureExtractor", "ImageProcessor")
    name = known.get(name) or known.get(name.removesuffix("Pil"))
    if name is None:
        raise UntrustedConfigError(
            f"Expected an image processor class that transformers ships, found {declared!r}: custom code is never run."
        )
    return name


def _known_processors(mapping: dict) -> dict[str, str]:
    """Every image processor class name transformers ships -> the name to use (a PIL backend's without ``Pil``)."""
    known = {}
    for entry in mapping.values():
        for backend, name in entry.items() if isinstance(entry, dict) else [("torchvision", entry)]:
            if name:
                known[name] = name if backend != "pil" else name.removesuffix("Pil")
    return known


def _default_processor_name(model_type: str, mapping: dict) -> str:
    """The image processor transformers pairs with ``model_type`` (its torchvision backend, else its PIL one)."""
    entry = mapping.get(model_type)
    name = (
        (entry.get("torchvision") or (entry.get("pil") or "").removesuffix("Pil")) if isinstance(entry, dict) else entry
    )
    if not name:
        raise ModelLoadError(
            f"Expected an image processor for model_type {model_type!r}, found none in transformers: its"
            " preprocessing is unknown."
        )
    return name


def _processor(cls: type, name: str, pp: dict):
    """The image processor built from ``pp``'s parameters, refused when it pads, flips channels or offsets."""
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
    return proc


def _resample_code(proc) -> int:
    """The processor's PIL resampling code (bilinear when unset), one of those :data:`_INTERPOLATION` maps."""
    resample = int(getattr(proc, "resample", 2) if getattr(proc, "resample", None) is not None else 2)
    if resample not in _INTERPOLATION:
        raise ModelLoadError(
            f"Expected nearest, bilinear, bicubic or lanczos resampling, found PIL code {resample} in"
            f" {PREPROCESSOR_CONFIG}: not reproduced here."
        )
    return resample


def _resize_steps(proc, convnext: bool) -> tuple[tuple[int, int] | None, int | None, tuple[int, int] | None]:
    """``(resize, shortest_edge, crop)`` from the processor's ``size``: a warp to height/width or a shortest edge."""
    size = getattr(proc, "size", None)
    if not getattr(proc, "do_resize", False):
        return None, None, None
    if size is None:
        raise ModelLoadError(f"Expected a size to resize to in {PREPROCESSOR_CONFIG}, found none: fix the file.")
    if size.shortest_edge and not (size.longest_edge or size.max_height):
        edge = whole_number(size.shortest_edge, "size.shortest_edge", 1, MAX_SIDE)
        return _shortest_edge_steps(proc, edge, convnext)
    if size.height and size.width and not (size.shortest_edge or size.longest_edge):
        height = whole_number(size.height, "size.height", 1, MAX_SIDE)
        return (height, whole_number(size.width, "size.width", 1, MAX_SIDE)), None, None
    raise ModelLoadError(
        f"Expected size as height/width or shortest_edge in {PREPROCESSOR_CONFIG}, found {size}: not reproduced here."
    )


def _shortest_edge_steps(proc, edge: int, convnext: bool) -> tuple[tuple[int, int] | None, int | None, tuple | None]:
    """A shortest edge of ``edge``; ConvNeXt's processor instead scales by ``crop_pct`` then crops (below 384 px)
    or warps to a square (from 384 px)."""
    if convnext and edge < 384:
        crop_pct = float(getattr(proc, "crop_pct", 224 / 256) or 224 / 256)
        if not 0 < crop_pct <= 4:
            raise UntrustedConfigError(f"Expected crop_pct in (0, 4], found {crop_pct}: fix {PREPROCESSOR_CONFIG}.")
        return None, int(edge / crop_pct), (edge, edge)
    if convnext:
        return (edge, edge), None, None
    return None, edge, None


def _center_crop_size(proc) -> tuple[int, int] | None:
    """The processor's center crop (height, width), or None when it does not crop."""
    if not getattr(proc, "do_center_crop", False):
        return None
    cs = getattr(proc, "crop_size", None)
    if cs is None or not (cs.height and cs.width):
        raise ModelLoadError(f"Expected crop_size height and width in {PREPROCESSOR_CONFIG}, found {cs}: fix the file.")
    return (
        whole_number(cs.height, "crop_size.height", 1, MAX_SIDE),
        whole_number(cs.width, "crop_size.width", 1, MAX_SIDE),
    )


def _normalization(proc, in_chans: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The processor's mean and std on [0, 1] images, its rescale factor folded in:
    ``(x*scale - m)/s == (x - m/scale)/(s/scale)``."""
    scale = 255.0 * float(proc.rescale_factor) if getattr(proc, "do_rescale", False) else 255.0  # x is pixel / 255
    if not scale > 0:
        raise UntrustedConfigError(
            f"Expected a positive rescale_factor, found {proc.rescale_factor}: fix {PREPROCESSOR_CONFIG}."
        )
    if getattr(proc, "do_normalize", False):
        mean = floats(_listed(proc.image_mean), "image_mean", in_chans)
        std = floats(_listed(proc.image_std), "image_std", in_chans)
        if min(std) <= 0:
            raise UntrustedConfigError(f"Expected positive image_std values, found {std}: fix {PREPROCESSOR_CONFIG}.")
    else:
        mean, std = (0.0,) * in_chans, (1.0,) * in_chans
    return tuple(m / scale for m in mean), tuple(s / scale for s in std)


def _listed(value):
    """A tuple as a list (as config.json would hold it), anything else as it is."""
    return list(value) if isinstance(value, (list, tuple)) else value


def _input_size(crop, resize, shortest: int | None, config: dict | None) -> tuple[int, int]:
    """The network's input side: the crop, else the warp, else the config's ``image_size``, else a square of the
    shortest edge (224 when nothing says)."""
    image_size = (config or {}).get("image_size")
    if crop:
        return crop
    if resize:
        return resize
    if isinstance(image_size, int) and not isinstance(image_size, bool) and 0 < image_size <= MAX_SIDE:
        return (image_size, image_size)
    return (shortest, shortest) if shortest else (224, 224)


def transformers_net(config: dict, device: torch.device) -> nn.Module:
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


def load_transformers(folder: Path, fmt: ModelFormat, where: str) -> Classifier:
    """Build the checked transformers network (meta first, compared with the header) and fill it from safetensors."""
    import transformers

    renamed = None
    try:
        with torch.device("meta"):
            meta_net = transformers_net(fmt.config, torch.device("meta"))
        mapping, converted = _hf_key_map(meta_net, fmt.shapes)
        if not converted:
            renamed = {mapping[k]: s for k, s in fmt.shapes.items()}
            compare_shapes(net_shapes(meta_net), renamed, fmt.architecture, where, "check config.json")
    except ModelLoadError:
        raise
    except Exception:  # noqa: BLE001 - a constructor that cannot run on meta: the real build is compared below
        pass
    net = transformers_net(fmt.config, torch.device("cpu"))
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
            state.update({mapping[k]: v for k, v in load_safetensors(path).items()})
        compare_shapes(
            net_shapes(net), {k: tuple(v.shape) for k, v in state.items()}, fmt.architecture, where, "check config.json"
        )
        net.load_state_dict(state)
    prep = fmt.preprocessing
    return Classifier(net.float(), prep.input_size, prep.mean, prep.std, prep, hf_output=True)
