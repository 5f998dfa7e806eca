"""Hugging Face Hub repos: a snapshot of a repo's configs and weights, never its code, under
``$SN_LAKE_HOME/hub_cache``."""

from __future__ import annotations

from pathlib import Path

from sn_lake.config import Settings
from sn_lake.evaluate.model_config import PREPROCESSOR_CONFIG
from sn_lake.evaluate.model_files import RAW_CHECKPOINT_SUFFIXES, SAFETENSORS_INDEX


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
