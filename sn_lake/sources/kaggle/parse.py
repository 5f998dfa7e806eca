"""Kaggle records -> typed values (pure functions): which listed models are image classifiers, a variation's
handle, its licence."""

from __future__ import annotations

from sn_lake.kaggle_client import framework_handle

IMAGE_CLASSIFICATION = "image classification"
WEB_URL = "https://www.kaggle.com/models"


def is_image_classifier(model: dict) -> bool:
    """True when a ListModels entry is tagged, titled or subtitled as image classification."""
    tags = [str(t.get(k) or "") for t in model.get("tags") or [] for k in ("name", "ref", "fullPath")]
    texts = [model.get("title") or "", model.get("subtitle") or "", *tags]
    return any(IMAGE_CLASSIFICATION in t.lower().replace("-", " ") for t in texts)


def native_id(owner: str, model: str, instance: dict) -> str:
    """``owner/model/framework/variation``, the handle Kaggle itself shows."""
    return f"{owner}/{model}/{framework_handle(instance.get('framework'))}/{instance['slug']}"


def license_name(instance: dict, model: dict) -> str | None:
    name = (instance.get("license") or {}).get("name")
    if not name:  # ListModelInstances left it out: GetModel's copy of the instance may have it
        same = [i for i in model.get("instances") or [] if i.get("slug") == instance.get("slug")]
        name = same[0].get("licenseName") if same else None
    return name or None
