"""config.json and preprocessor_config.json, read and checked before anything is built; nothing in them is trusted.

The architecture must be a plain name that timm or transformers ships (no ``hf-hub:``, ``local-dir:`` or paths),
a transformers config may not ask for remote code (``auto_map``), other weights or quantization, timm
``model_args`` pass an allow-list of structural arguments with plain values (:data:`TIMM_MODEL_ARGS`), and class
counts, sizes and parameter budgets are bounded. Torch-free: timm and transformers are imported only to ask
what they ship.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from sn_lake.evaluate.models_errors import ModelLoadError

PREPROCESSOR_CONFIG = "preprocessor_config.json"
MAX_CLASSES = 1_000_000
MAX_SIDE = 4096  # pixels of a model's input side
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


class UntrustedConfigError(ModelLoadError):
    """config.json asks for something evaluation never does: remote code, other repos, paths, unknown networks."""


def read_json(path: Path, what: str) -> dict:
    """A small JSON object file (``what`` names it in errors), or a ModelLoadError saying what is wrong with it."""
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
    return read_json(path, "config.json")


def contains_key(value, key: str) -> bool:
    """Whether ``key`` is a key of any object nested in ``value``."""
    if isinstance(value, dict):
        return key in value or any(contains_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(contains_key(v, key) for v in value)
    return False


def whole_number(value, what: str, low: int, high: int) -> int:
    """``value`` when it is an int (not a bool) in ``[low, high]``, else an UntrustedConfigError naming ``what``."""
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
    if not timm_tag_known(name):
        raise UntrustedConfigError(
            f"Expected a pretrained tag that timm {timm.__version__} knows for {name.partition('.')[0]}, "
            f"found {name.partition('.')[2]!r}: drop the tag or fix config.json."
        )
    return name


def timm_tag_known(name: str) -> bool:
    """Whether timm knows the pretrained tag of ``name`` (``resnet18.a1_in1k``; a bare architecture has none)."""
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

    if contains_key(config, "auto_map"):
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
    if contains_key(config, "quantization_config"):
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
        n = whole_number(config.get("num_labels", 2), "num_labels", 1, MAX_CLASSES)
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


def timm_spec(config: dict) -> tuple[str, int, dict]:
    """``(architecture, num_classes, model_args)`` of a timm config.json, each checked."""
    if contains_key(config, "auto_map"):
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
        whole_number(num_classes, "num_classes", 1, MAX_CLASSES),
        check_model_args(config.get("model_args")),
    )


def floats(value, what: str, n: int | None = None) -> tuple[float, ...]:
    """A few finite numbers (one number, or one per channel when ``n`` is given: repeated to ``n``)."""
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
