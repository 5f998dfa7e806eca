"""Every setting sn_lake reads, taken from the environment in one place.

Settings are read when :func:`load` is called, not at import, so a test or a notebook can point
``SN_LAKE_HOME`` somewhere else and call :func:`load` again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"
DAGSTER_HOME_DIR = PROJECT_ROOT / "dagster_home"

PUBLIC_HF_ENDPOINT = "https://huggingface.co"
SECURITYNET_URL = "https://raw.githubusercontent.com/TrustAIRLab/SecurityNet/main/Database/README.MD"


@dataclass(frozen=True)
class Settings:
    home: Path
    hf_endpoint: str
    hf_token: str | None
    kaggle_environment: str
    kaggle_token: str | None
    securitynet_url: str
    arxiv_url: str
    s2_url: str
    openalex_url: str
    dblp_url: str
    pwc_url: str
    device: str

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    def __repr__(self) -> str:  # tokens never reach logs, even through a repr
        shown = {k: v for k, v in self.__dict__.items() if not k.endswith("_token")}
        return f"Settings({shown})"


def load() -> Settings:
    """Read the settings from the environment (see the README's configuration table)."""
    env = os.environ.get
    device = env("SN_LAKE_DEVICE", "auto").lower()
    if device not in {"auto", "cpu", "cuda"}:
        raise ValueError(f"SN_LAKE_DEVICE must be 'auto', 'cpu' or 'cuda', found {device!r}: set one of those.")
    return Settings(
        home=Path(env("SN_LAKE_HOME") or Path.cwd() / "lake_home").resolve(),
        hf_endpoint=(env("HF_ENDPOINT") or PUBLIC_HF_ENDPOINT).rstrip("/"),
        hf_token=env("HF_TOKEN") or None,
        kaggle_environment=env("KAGGLE_API_ENVIRONMENT", "PROD"),
        kaggle_token=env("KAGGLE_API_TOKEN") or None,
        securitynet_url=env("SN_LAKE_SECURITYNET_URL", SECURITYNET_URL),
        arxiv_url=env("SN_LAKE_ARXIV_URL", "https://export.arxiv.org/api/query"),
        s2_url=env("SN_LAKE_S2_URL", "https://api.semanticscholar.org/graph/v1"),
        openalex_url=env("SN_LAKE_OPENALEX_URL", "https://api.openalex.org"),
        dblp_url=env("SN_LAKE_DBLP_URL", "https://dblp.org/search/publ/api"),
        pwc_url=env("SN_LAKE_PWC_URL", "https://paperswithcode.com/api/v1"),
        device=device,
    )
