"""Fixtures with real zoo models: one build of the test subset per session, linked into each test's SN_LAKE_HOME."""

from pathlib import Path

import pytest

from sn_lake import config
from sn_lake.evaluate import zoo


@pytest.fixture(scope="session")
def test_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zoo's cheapest clean and both backdoored models, trained once per test session."""
    import torch

    torch.set_num_threads(1)  # the test run shares two cores with other processes: one thread wastes no time spinning
    # one folder per session: each test module imports this fixture (a fixture of its own), and every
    # instance after the first finds the models built (cached by spec hash)
    root = tmp_path_factory.getbasetemp() / "zoo"
    zoo.build_zoo(root, zoo.TEST_ZOO_NAMES, log=lambda _: None)
    return root


@pytest.fixture
def zoo_settings(settings: config.Settings, test_zoo: Path) -> config.Settings:
    """Settings whose ``$SN_LAKE_HOME/zoo`` is the session's test zoo."""
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "zoo").symlink_to(test_zoo, target_is_directory=True)
    return settings
