"""Architecture-family rule: ``resnet50d`` -> ``resnet``, ``vit_base_patch16_224`` -> ``vit``."""

from __future__ import annotations

import re

# Prefixes that name where weights came from, not what the network is.
ORIGIN_PREFIXES = ("tf_", "legacy_", "gluon_", "tv_", "timm_")

# Families whose names contain underscores or digits the generic rule would cut; longest first.
NAMED_FAMILIES: dict[str, str] = {
    "wide_resnet": "wide_resnet",
    "inception_resnet": "inception_resnet",
    "inception_": "inception",
    "ese_vovnet": "vovnet",
    "eca_nfnet": "nfnet",
    "dm_nfnet": "nfnet",
    "nf_regnet": "nfnet",
    "nf_resnet": "nfnet",
    "nf_ecaresnet": "nfnet",
    "nf_seresnet": "nfnet",
    "res2next": "res2net",
    "res2net": "res2net",
    "cs3": "cspnet",
    "csp": "cspnet",
    "efficientnetv2": "efficientnetv2",
    "halo2botnet": "halonet",
    # SecurityNet's model types (imgclsmob names): `wrn` is a wide ResNet, `resnesta` ResNeSt, `espnetv` ESPNetv2
    "wrn": "wide_resnet",
    "resnest": "resnest",
    "espnetv": "espnetv2",
}

_LEADING = re.compile(r"([a-z]+)(\d*)")


def model_family(architecture: str | None) -> str | None:
    """The family of a timm-style architecture name, or None when there is no name.

    The generic rule keeps the leading letters of the first ``_``-separated word and drops the
    depth or width number after them (``resnet50d`` -> ``resnet``), except a version number
    written with ``v`` (``mobilenetv3_large_100`` -> ``mobilenetv3``, ``swinv2`` -> ``swinv2``).
    """
    if not architecture:
        return None
    name = architecture.strip().lower().replace("-", "_")
    for prefix in ORIGIN_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
    for prefix in sorted(NAMED_FAMILIES, key=len, reverse=True):
        if name.startswith(prefix):
            return NAMED_FAMILIES[prefix]
    match = _LEADING.match(name.split("_")[0])
    if not match:
        return None
    letters, digits = match.groups()
    return letters + digits if letters.endswith("v") and digits else letters
