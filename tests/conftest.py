"""Shared fixtures: an isolated SN_LAKE_HOME and Dagster instance per test, and ../shared."""

import os
import shutil
from pathlib import Path

import pytest

from sn_lake import config

SHARED_DIR = config.PROJECT_ROOT.parent / "shared"
SECURITYNET_TABLE = SHARED_DIR / "data" / "securitynet" / "README.MD"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@pytest.fixture
def sn_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SN_LAKE_HOME and DAGSTER_HOME (a copy of dagster_home/dagster.yaml) for one test."""
    home = tmp_path / "sn_home"
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(config.DAGSTER_HOME_DIR / "dagster.yaml", dagster_home / "dagster.yaml")
    monkeypatch.setenv("SN_LAKE_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    for var in ("HF_ENDPOINT", "HF_TOKEN", "KAGGLE_API_TOKEN", "KAGGLE_API_ENVIRONMENT", "SN_LAKE_DEVICE"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def settings(sn_home: Path) -> config.Settings:
    return config.load()


@pytest.fixture(scope="session")
def securitynet_table() -> Path:
    """The shared copy of the SecurityNet database table (a test fixture; never copied into the project)."""
    if not SECURITYNET_TABLE.exists():
        pytest.fail(
            f"Expected the SecurityNet table at {SECURITYNET_TABLE}: the tests need ../shared beside the project."
        )
    return SECURITYNET_TABLE
