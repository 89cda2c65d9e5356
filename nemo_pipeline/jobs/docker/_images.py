"""Building the project's images from dockerfiles/, reusing an image whose build inputs have not changed.

An image built here carries the label `nemo-pipeline.inputs`: a hash of its Dockerfile, the base image's id, the
build arguments and every file of the build context. `build_image` returns the existing image when that label
matches, so tests and installs build each image once until one of its inputs changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.layout import REPO_ROOT
from nemo_pipeline.process import TAIL_LINES

__all__ = ["CONTEXT_PATHS", "INPUTS_LABEL", "BuiltImage", "ImageBuild", "ImageBuildError", "build_image", "inputs_hash"]

INPUTS_LABEL = "nemo-pipeline.inputs"
# What the build context holds (the repository's .dockerignore lets exactly these through).
CONTEXT_PATHS = ("setup.py", "MANIFEST.in", "conf", "nemo_pipeline", "pipeline", "wheels")
_SKIPPED_PARTS = ("__pycache__",)


class ImageBuildError(RuntimeError):
    """A `docker build` that failed: the Dockerfile, the tag and the last lines of the build log."""


@dataclass(frozen=True)
class ImageBuild:
    """One image to build from a Dockerfile of this checkout."""

    dockerfile: str  # relative to the repository root, e.g. "dockerfiles/Dockerfile.sandbox"
    tag: str  # e.g. "nemo-pipeline/sandbox:dev"
    base_image: str | None = None  # the BASE_IMAGE build argument; None keeps the Dockerfile's pinned default
    build_args: dict[str, str] = field(default_factory=dict)

    def args(self) -> dict[str, str]:
        args = dict(self.build_args)
        if self.base_image:
            args["BASE_IMAGE"] = self.base_image
        return args


@dataclass(frozen=True)
class BuiltImage:
    """An image ready to run: its tag, id, size in bytes, and whether it was built now (with the seconds taken)."""

    tag: str
    id: str
    size: int
    built: bool
    build_s: float = 0.0


def _context_files(root: Path) -> list[Path]:
    files = []
    for name in CONTEXT_PATHS:
        path = root / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(p for p in path.rglob("*") if p.is_file() and not set(p.parts) & set(_SKIPPED_PARTS))
    return sorted(files)


def inputs_hash(build: ImageBuild, base_image_id: str, root: Path = REPO_ROOT) -> str:
    """sha256 over the Dockerfile, the base image id, the build arguments and the build context's files."""
    digest = hashlib.sha256()
    digest.update((root / build.dockerfile).read_bytes())
    digest.update(f"\0base={base_image_id}\0".encode())
    for key, value in sorted(build.args().items()):
        digest.update(f"{key}={value}\0".encode())
    for path in _context_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _base_image_id(client: Any, build: ImageBuild, docker: Any) -> str:
    """The local base image's id; '' when the Dockerfile's default base is to be pulled."""
    if not build.base_image:
        return ""
    try:
        return str(client.images.get(build.base_image).id)
    except docker.errors.ImageNotFound:
        raise ConfigError(
            f"base image {build.base_image} for {build.dockerfile} is not in the local engine; make it with "
            "scripts/build_base_image.sh (bash scripts/install.sh --dev does) or pull it"
        ) from None


def build_image(client: Any, build: ImageBuild, root: Path = REPO_ROOT) -> BuiltImage:
    """The image `build.tag`: the existing one when its inputs label matches, else built now (host network, so
    apt and pip reach their mirrors on an engine without a bridge)."""
    import docker

    if not (root / build.dockerfile).is_file():
        raise ConfigError(f"no Dockerfile at {root / build.dockerfile}")
    wanted = inputs_hash(build, _base_image_id(client, build, docker), root)
    try:
        existing = client.images.get(build.tag)
    except docker.errors.ImageNotFound:
        existing = None
    if existing is not None and (existing.labels or {}).get(INPUTS_LABEL) == wanted:
        return BuiltImage(build.tag, str(existing.id), int(existing.attrs["Size"]), built=False)
    started = time.monotonic()
    try:
        image, _ = client.images.build(
            path=str(root),
            dockerfile=build.dockerfile,
            tag=build.tag,
            buildargs=build.args(),
            labels={INPUTS_LABEL: wanted},
            network_mode="host",
            rm=True,
            forcerm=True,
        )
    except docker.errors.BuildError as err:
        lines = [str(chunk.get("stream") or chunk.get("error") or "").rstrip() for chunk in err.build_log]
        log_tail = "\n".join(line for line in lines if line)
        log_tail = "\n".join(log_tail.splitlines()[-TAIL_LINES:])
        message = f"docker build of {build.dockerfile} as {build.tag} failed: {err.msg}"
        raise ImageBuildError(f"{message}\n{log_tail}") from None
    if existing is not None and existing.id != image.id:  # the replaced image, now untagged: no pile-up
        with contextlib.suppress(docker.errors.APIError):  # still used by a container: left for `docker image prune`
            client.images.remove(existing.id)
    return BuiltImage(build.tag, str(image.id), int(image.attrs["Size"]), True, time.monotonic() - started)
