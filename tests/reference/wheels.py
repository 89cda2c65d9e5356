"""The official scorers' pinned wheels, extracted (never installed) for the reference drivers in this folder."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from nemo_pipeline.datasets import PyPIWheel
from nemo_pipeline.datasets.benchmarks._opencompass import OPENCOMPASS
from nemo_pipeline.errors import DataError
from tests.conftest import require

HERE = Path(__file__).resolve().parent

FSCHAT = PyPIWheel(
    package="fschat",
    version="0.2.36",
    sha256="a66ecf1e90f6db1d015096f6aa8a305d20d0a13e067951285aecdb56a33e9cb1",
    license="Apache-2.0 (FastChat LICENSE in the wheel)",
)

__all__ = ["FSCHAT", "OPENCOMPASS", "extract", "run_driver"]


def extract(wheel: PyPIWheel, prefixes: tuple[str, ...], target: Path) -> Path:
    """Extract the wheel's files under `prefixes` into `target` (fails under CI, skips elsewhere, when the wheel
    cannot be fetched from the package index)."""
    try:
        path = wheel.wheel_path()
    except DataError as exc:
        require(f"{wheel.description} (the official scorer's code)", False, f"pip must reach a package index: {exc}")
        raise
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith(prefixes):
                archive.extract(name, target)
    return target


def run_driver(script: str, root: Path, spec: dict[str, Any], work: Path) -> dict[str, Any]:
    """Run `script` (a driver in this folder) on `spec` with the extracted code in `root`; its JSON output."""
    work.mkdir(parents=True, exist_ok=True)
    given, produced = work / "input.json", work / "output.json"
    given.write_text(json.dumps(spec), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(HERE / script), str(root), str(given), str(produced)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{script} failed:\n{done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(produced.read_text(encoding="utf-8"))
    return result
