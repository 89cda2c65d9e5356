"""The project's own lint, format and type rules (pyproject.toml) hold on every file."""

import shutil
import subprocess
import sys

import pytest


def _run(repo, *argv):
    return subprocess.run(argv, cwd=repo, capture_output=True, text=True, timeout=280, check=False)


@pytest.mark.timeout(120)
def test_ruff_lint_and_format(repo):
    ruff = shutil.which("ruff")
    assert ruff, "ruff is missing: install the [dev] extra"
    lint = _run(repo, ruff, "check", ".")
    assert lint.returncode == 0, lint.stdout[-4000:]
    fmt = _run(repo, ruff, "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout[-4000:]


@pytest.mark.timeout(300)
def test_mypy_on_the_package(repo):
    typed = _run(repo, sys.executable, "-m", "mypy")
    assert typed.returncode == 0, typed.stdout[-4000:]
