"""Shared fixtures: an isolated data cache per session so tests never touch the user's."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture
def tiny_gsm8k(tmp_path: Path) -> Path:
    """Five items in the prepared-data format, with answers a scripted server can give."""
    path = tmp_path / "data.jsonl"
    rows = [
        {"id": f"item-{i}", "problem": f"What is {i} plus {i}?", "expected_answer": str(2 * i)} for i in range(1, 6)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def env_with_repo() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env
