"""The trackers' environment for every test here (see `tests.trackers.offline`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trackers.offline import offline_tracker_env


@pytest.fixture
def tracker_env(tmp_path: Path, env_with_repo: dict[str, str]) -> dict[str, str]:
    return offline_tracker_env(tmp_path, env_with_repo)
