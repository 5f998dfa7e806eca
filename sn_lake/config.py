"""Every setting sn_lake reads, taken from the environment in one place.

Settings are read when :func:`load` is called, not at import, so a test or a notebook can point
``SN_LAKE_HOME`` somewhere else and call :func:`load` again.

Evaluation data read from the Hub (:mod:`sn_lake.evaluate.hub_datasets`): ``SN_LAKE_EVAL_MEMBERS`` is how many
rows of a dataset's train split (the members) and ``SN_LAKE_EVAL_NONMEMBERS`` how many of its test split (else
validation; the non-members) are downloaded, decoded and cached; 5,000 each by default. Shards are read in order
only until these numbers are reached, so a large dataset (ImageNet-1k) is never downloaded whole.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = Path(__file__).resolve().parent / "_sql"  # a link to ../sql in the tree, its copy once installed
DAGSTER_HOME_DIR = PROJECT_ROOT / "dagster_home"

PUBLIC_HF_ENDPOINT = "https://huggingface.co"
SECURITYNET_URL = "https://raw.githubusercontent.com/TrustAIRLab/SecurityNet/main/Database/README.MD"
# RobustBench's model_info/ and timm's results/ folders: the upstream repositories' raw files (or a local folder)
ROBUSTBENCH_URL = "https://raw.githubusercontent.com/RobustBench/robustbench/master/model_info"
TIMM_RESULTS_URL = "https://raw.githubusercontent.com/huggingface/pytorch-image-models/main/results"
# The public APIs behind the paper and weights settings (a source skips these with a warning when
# they cannot be reached at all, i.e. offline; an endpoint a user configured fails loudly instead).
PUBLIC_ENDPOINTS = {
    "arxiv_url": "https://export.arxiv.org/api/query",
    "s2_url": "https://api.semanticscholar.org/graph/v1",
    "openalex_url": "https://api.openalex.org",
    "dblp_url": "https://dblp.org/search/publ/api",
    "pwc_url": "https://paperswithcode.com/api/v1",
    "github_url": "https://api.github.com",
    "zenodo_url": "https://zenodo.org/api",
}


# SN_LAKE_PROFILE: 'embedded' (one machine: a DuckDB file, sqlite Dagster storage) or 'distributed'
# (DuckLake warehouse in PostgreSQL, Postgres Dagster storage, Celery workers); see docs/scale_out.md.
PROFILES = {"embedded", "distributed"}
DEFAULT_DUCKLAKE_CATALOG = "postgres:dbname=test host=127.0.0.1 user=postgres"
# Celery broker and result backend of the distributed profile's executor, and its Dagster storage.
DEFAULT_CELERY_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_CELERY_BACKEND = "redis://127.0.0.1:6379/1"
# +psycopg2: SQLAlchemy 2.1 would pick psycopg 3
DEFAULT_DAGSTER_PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


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
    github_url: str = PUBLIC_ENDPOINTS["github_url"]
    zenodo_url: str = PUBLIC_ENDPOINTS["zenodo_url"]
    arxiv_interval_s: float = 3.0  # arXiv asks for one request every 3 s
    paper_api_interval_s: float = 1.0  # Semantic Scholar, OpenAlex, DBLP, Papers with Code
    github_token: str | None = None  # GitHub's API allows 60 requests an hour without one
    # scale-out (SN_LAKE_PROFILE=distributed; docs/scale_out.md): the warehouse as a DuckLake catalog
    profile: str = "embedded"
    ducklake_catalog: str = DEFAULT_DUCKLAKE_CATALOG
    ducklake_metadata_schema: str = "sn_lake"
    ducklake_data_path: str | None = None  # None: $SN_LAKE_HOME/lake/warehouse/
    celery_broker: str = DEFAULT_CELERY_BROKER
    celery_backend: str = DEFAULT_CELERY_BACKEND
    # CPU threads per evaluation / zoo-training process (SN_LAKE_TORCH_THREADS): 1 by default, because
    # several Dagster steps share the cores and oversubscribed OpenMP threads slow PyTorch down tenfold
    torch_threads: int = 1
    robustbench_url: str = ROBUSTBENCH_URL  # SN_LAKE_ROBUSTBENCH_URL: URL or local folder
    timm_results_url: str = TIMM_RESULTS_URL  # SN_LAKE_TIMM_RESULTS_URL: URL or local folder
    # rows of a Hub dataset's train split (members) and test/validation split (non-members) to read (SN_LAKE_EVAL_*)
    eval_members: int = 5000
    eval_nonmembers: int = 5000
    # the largest model (in parameters, from its safetensors header or listing) the evaluation loads
    # (SN_LAKE_MAX_PARAMETERS)
    max_parameters: int = 1_000_000_000
    # How long a writer of the warehouse file waits for other processes' connections to close (SN_LAKE_WRITE_WAIT_S)
    write_wait_s: float = 120.0

    @property
    def dagster_home_dir(self) -> Path:
        """The project's Dagster instance folder for this profile (dagster_home/ or dagster_home/distributed/)."""
        return DAGSTER_HOME_DIR / "distributed" if self.profile == "distributed" else DAGSTER_HOME_DIR

    def is_public_endpoint(self, name: str) -> bool:
        """Whether the endpoint setting ``name`` (e.g. ``arxiv_url``) is the public default, not a user's choice."""
        return getattr(self, name).rstrip("/") == PUBLIC_ENDPOINTS[name].rstrip("/")

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def warehouse_data_path(self) -> str:
        """Where a DuckLake warehouse keeps its Parquet data files: a folder or an s3:// URL, ending in '/'."""
        path = self.ducklake_data_path or str(self.lake_dir / "warehouse")
        return path if path.endswith("/") else path + "/"

    def __repr__(self) -> str:  # tokens never reach logs, even through a repr
        shown = {
            k: redact(v) if isinstance(v, str) else v for k, v in self.__dict__.items() if not k.endswith("_token")
        }
        return f"Settings({shown})"


# the userinfo of a URL (up to its last '@' before the path); never crosses a quote, so JSON text stays JSON
_USERINFO = re.compile(r"(://)[^/?#\s\"'<>\\]*@")


def redact_userinfo(text: str) -> str:
    """``text`` with the user and password of every URL in it masked: ``http://user:pass@host/x`` ->
    ``http://***@host/x``. Safe on JSON text (a masked URL stays inside its string)."""
    return _USERINFO.sub(r"\1***@", text) if "@" in text else text


def redact(text: str) -> str:
    """``text`` with the passwords of connection strings and URLs masked (``password=***``, ``scheme://***@host``)."""
    text = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", text, flags=re.I)
    return redact_userinfo(text)


def _positive_int(name: str, default: int) -> int:
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive whole number, found {raw!r}: set a count such as {default}.")
    return int(raw)


def load() -> Settings:
    """Read the settings from the environment (see the README's configuration table)."""
    env = os.environ.get
    device = env("SN_LAKE_DEVICE", "auto").lower()
    if device not in {"auto", "cpu", "cuda"}:
        raise ValueError(f"SN_LAKE_DEVICE must be 'auto', 'cpu' or 'cuda', found {device!r}: set one of those.")
    profile = env("SN_LAKE_PROFILE", "embedded").lower()
    if profile not in PROFILES:
        raise ValueError(
            f"SN_LAKE_PROFILE must be one of {sorted(PROFILES)}, found {profile!r}: "
            "set one of those (docs/scale_out.md)."
        )
    return Settings(
        home=Path(env("SN_LAKE_HOME") or Path.cwd() / "lake_home").resolve(),
        hf_endpoint=(env("HF_ENDPOINT") or PUBLIC_HF_ENDPOINT).rstrip("/"),
        hf_token=env("HF_TOKEN") or None,
        kaggle_environment=env("KAGGLE_API_ENVIRONMENT", "PROD"),
        kaggle_token=env("KAGGLE_API_TOKEN") or None,
        securitynet_url=env("SN_LAKE_SECURITYNET_URL", SECURITYNET_URL),
        robustbench_url=env("SN_LAKE_ROBUSTBENCH_URL") or ROBUSTBENCH_URL,
        timm_results_url=env("SN_LAKE_TIMM_RESULTS_URL") or TIMM_RESULTS_URL,
        arxiv_url=env("SN_LAKE_ARXIV_URL", PUBLIC_ENDPOINTS["arxiv_url"]),
        s2_url=env("SN_LAKE_S2_URL", PUBLIC_ENDPOINTS["s2_url"]),
        openalex_url=env("SN_LAKE_OPENALEX_URL", PUBLIC_ENDPOINTS["openalex_url"]),
        dblp_url=env("SN_LAKE_DBLP_URL", PUBLIC_ENDPOINTS["dblp_url"]),
        pwc_url=env("SN_LAKE_PWC_URL", PUBLIC_ENDPOINTS["pwc_url"]),
        device=device,
        torch_threads=int(env("SN_LAKE_TORCH_THREADS") or 1),
        eval_members=_positive_int("SN_LAKE_EVAL_MEMBERS", 5000),
        eval_nonmembers=_positive_int("SN_LAKE_EVAL_NONMEMBERS", 5000),
        max_parameters=_positive_int("SN_LAKE_MAX_PARAMETERS", 1_000_000_000),
        github_url=env("SN_LAKE_GITHUB_URL", PUBLIC_ENDPOINTS["github_url"]),
        zenodo_url=env("SN_LAKE_ZENODO_URL", PUBLIC_ENDPOINTS["zenodo_url"]),
        arxiv_interval_s=float(env("SN_LAKE_ARXIV_INTERVAL_S", "3")),
        paper_api_interval_s=float(env("SN_LAKE_PAPER_API_INTERVAL_S", "1")),
        github_token=env("GITHUB_TOKEN") or None,
        profile=profile,
        ducklake_catalog=env("SN_LAKE_DUCKLAKE_CATALOG") or DEFAULT_DUCKLAKE_CATALOG,
        ducklake_metadata_schema=env("SN_LAKE_DUCKLAKE_SCHEMA") or "sn_lake",
        ducklake_data_path=env("SN_LAKE_DUCKLAKE_DATA_PATH") or None,
        celery_broker=env("SN_LAKE_CELERY_BROKER") or DEFAULT_CELERY_BROKER,
        celery_backend=env("SN_LAKE_CELERY_BACKEND") or DEFAULT_CELERY_BACKEND,
        write_wait_s=_seconds("SN_LAKE_WRITE_WAIT_S", 120.0),
    )


def _seconds(name: str, default: float) -> float:
    """A non-negative number of seconds from the environment variable ``name``."""
    text = (os.environ.get(name) or "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise ValueError(f"{name} must be a number of seconds (0 or more), found {text!r}: set one or unset it.")
    return value


# every day at 03:17 UTC: off the hour, so the sources do not see us with everyone else's cron jobs
DEFAULT_CRAWL_CRON = "17 3 * * *"


def crawl_cron(source: str) -> str:
    """The cron of a source's daily re-crawl: ``SN_LAKE_CRAWL_CRON_<SOURCE>`` (e.g. ``SN_LAKE_CRAWL_CRON_KAGGLE``),
    else ``SN_LAKE_CRAWL_CRON`` for every source, else 03:17 UTC daily. Read when the code location loads."""
    return (
        os.environ.get(f"SN_LAKE_CRAWL_CRON_{source.upper()}")
        or os.environ.get("SN_LAKE_CRAWL_CRON")
        or DEFAULT_CRAWL_CRON
    ).strip()
