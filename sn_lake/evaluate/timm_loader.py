"""timm folders: ``config.json`` with ``architecture``, ``num_classes``, ``model_args`` and ``pretrained_cfg``, and
weights in ``model.safetensors`` or a raw checkpoint (``.pth``, ``.ckpt``, ``.bin``).

:func:`inspect_timm` checks such a folder without building anything; :func:`load_timm` builds the network on the
meta device, compares it key by key with the weights, then builds it for real and fills it. timm is imported
only inside the functions.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from sn_lake.evaluate.classifier import Classifier, Preprocessing
from sn_lake.evaluate.model_config import (
    MAX_SIDE,
    UntrustedConfigError,
    check_budget,
    floats,
    timm_spec,
    whole_number,
)
from sn_lake.evaluate.model_files import (
    ModelFormat,
    check_head,
    compare_shapes,
    count_parameters,
    folder_weights,
    load_safetensors,
    net_shapes,
)
from sn_lake.evaluate.models_errors import ModelLoadError


def inspect_timm(folder: Path, config: dict, max_parameters: int) -> ModelFormat:
    """Check a timm folder (its ``config`` already read): architecture, weights' header, head, budget, preprocessing."""
    import timm

    architecture, num_classes, model_args = timm_spec(config)
    weights, shapes, state = folder_weights(folder, safetensors_only=False)
    check_budget(count_parameters(shapes), max_parameters, weights[0].name)
    check_head(shapes, timm_head(architecture), num_classes, weights[0].name)
    default_cfg = timm.models.get_pretrained_cfg(architecture)
    in_chans = whole_number(model_args.get("in_chans", 3), "model_args.in_chans", 1, 4)
    prep = timm_preprocessing(config, default_cfg.to_dict() if default_cfg else {}, in_chans)
    names = config.get("label_names")
    names = [str(n) for n in names] if isinstance(names, list) and len(names) == num_classes else None
    return ModelFormat(
        "timm", architecture, num_classes, names, count_parameters(shapes), weights, config, prep, shapes, state
    )


def load_timm(fmt: ModelFormat, where: str) -> Classifier:
    """Build the checked timm network (meta first, compared with the weights) and fill it."""
    _, _, model_args = timm_spec(fmt.config)
    what = f"{fmt.architecture} with {fmt.config.get('model_args', {})}"
    _meta_check(lambda: timm_net(fmt.architecture, fmt.num_classes, model_args), fmt.shapes, what, where)
    classifier = build(fmt.config)
    state = fmt.state if fmt.state is not None else load_safetensors(fmt.weights[0])
    compare_shapes(
        net_shapes(classifier.net), {k: tuple(v.shape) for k, v in state.items()}, what, where, "check config.json"
    )
    classifier.net.load_state_dict(state)
    return classifier


def timm_preprocessing(config: dict, default_cfg: dict, in_chans: int) -> Preprocessing:
    """Input size, mean and std from config.json's ``pretrained_cfg``, else timm's default config, else ImageNet's."""
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
    side = tuple(whole_number(s, "each side of input_size", 1, MAX_SIDE) for s in input_size[-2:])
    mean = floats(pretrained.get("mean") or default_cfg.get("mean") or (0.485, 0.456, 0.406), "mean", in_chans)
    std = floats(pretrained.get("std") or default_cfg.get("std") or (0.229, 0.224, 0.225), "std", in_chans)
    if min(std) <= 0:
        raise UntrustedConfigError(f"Expected positive std values, found {std}: fix config.json.")
    return Preprocessing(side, mean, std, in_chans=in_chans)


def timm_head(architecture: str) -> tuple[str, ...]:
    """The classifier modules timm names for ``architecture`` (``fc``, ``head.fc``, ...)."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(architecture)
    classifier = getattr(cfg, "classifier", None) if cfg is not None else None
    return tuple(classifier) if isinstance(classifier, (list, tuple)) else ((classifier,) if classifier else ())


def timm_net(architecture: str, num_classes: int, model_args: dict) -> nn.Module:
    """An untrained timm network, or a ModelLoadError when timm refuses the arguments."""
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

    architecture, num_classes, model_args = timm_spec(config)
    net = timm_net(architecture, num_classes, model_args)
    default_cfg = getattr(net, "pretrained_cfg", None) or (timm.models.get_pretrained_cfg(architecture) or {})
    default_cfg = default_cfg if isinstance(default_cfg, dict) else default_cfg.to_dict()
    prep = timm_preprocessing(config, default_cfg, int(model_args.get("in_chans", 3)))
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
    compare_shapes(net_shapes(net), found, what, where, "check config.json")
