"""The project's dockerfiles: each pins its public base by exact tag and takes it as the BASE_IMAGE build argument;
the sandbox and pipeline images build here on the offline base and hold what their components run."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from nemo_pipeline.jobs.docker import INPUTS_LABEL, ImageBuild, build_image, inputs_hash
from nemo_pipeline.jobs.docker._images import CONTEXT_PATHS
from tests.docker.conftest import BASE_IMAGE, PIPELINE_IMAGE, SANDBOX_IMAGE

DOCKERFILES = sorted((Path(__file__).resolve().parents[2] / "dockerfiles").glob("Dockerfile.*"))
# An exact tag carries a version number (no `latest`, no bare release name), or the image is pinned by digest.
PINNED = re.compile(r"^[\w./-]+(:[\w.-]*\d[\w.-]*|@sha256:[0-9a-f]{64})$")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_each_dockerfile_takes_its_pinned_base_as_a_build_argument(dockerfile: Path) -> None:
    lines = [line.strip() for line in dockerfile.read_text().splitlines() if line.strip() and line[0] != "#"]
    (arg,) = [line for line in lines if line.startswith("ARG BASE_IMAGE=")]
    default = arg.split("=", 1)[1]
    assert PINNED.match(default) and "latest" not in default, default
    assert lines.index(arg) == 0 and [line for line in lines if line.startswith("FROM")] == ["FROM ${BASE_IMAGE}"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("server_type", ["vllm", "trtllm", "nemo"])
def test_a_server_dockerfile_builds_on_the_image_its_server_type_pins(server_type: str) -> None:
    """The vendor image a server type starts on a cluster and the base of its dockerfile are one release."""
    module = importlib.import_module(f"nemo_pipeline.inference.servers.{server_type}")
    dockerfile = Path(__file__).resolve().parents[2] / "dockerfiles" / f"Dockerfile.{server_type}"
    assert f"ARG BASE_IMAGE={module.DEFAULT_IMAGE}\n" in dockerfile.read_text()


@pytest.mark.timeout(30)
def test_the_build_context_is_what_the_inputs_hash_reads(repo: Path) -> None:
    kept = [line[1:] for line in (repo / ".dockerignore").read_text().splitlines() if line.startswith("!")]
    assert tuple(kept) == CONTEXT_PATHS


@pytest.mark.timeout(60)
def test_the_inputs_hash_follows_the_dockerfile_base_and_context(tmp_path: Path) -> None:
    (tmp_path / "dockerfiles").mkdir()
    (tmp_path / "dockerfiles" / "Dockerfile.x").write_text("ARG BASE_IMAGE=debian:bookworm-20250630-slim\n")
    (tmp_path / "setup.py").write_text("setup()\n")
    (tmp_path / "nemo_pipeline").mkdir()
    (tmp_path / "nemo_pipeline" / "a.py").write_text("A = 1\n")
    build = ImageBuild("dockerfiles/Dockerfile.x", "x:1", base_image="base:1")
    first = inputs_hash(build, "sha256:aa", tmp_path)
    assert inputs_hash(build, "sha256:aa", tmp_path) == first
    assert inputs_hash(build, "sha256:bb", tmp_path) != first  # the base image was rebuilt
    (tmp_path / "nemo_pipeline" / "__pycache__").mkdir()
    (tmp_path / "nemo_pipeline" / "__pycache__" / "a.pyc").write_bytes(b"\0")
    assert inputs_hash(build, "sha256:aa", tmp_path) == first  # bytecode is not an input
    (tmp_path / "nemo_pipeline" / "a.py").write_text("A = 2\n")
    assert inputs_hash(build, "sha256:aa", tmp_path) != first


@pytest.mark.timeout(900)
def test_the_sandbox_image_holds_its_isolation_tools(docker_client, sandbox_image) -> None:
    image = docker_client.images.get(SANDBOX_IMAGE)
    assert image.id == sandbox_image.id and image.labels[INPUTS_LABEL]
    out = docker_client.containers.run(
        SANDBOX_IMAGE, entrypoint=["sh", "-c"], network_mode="host", remove=True,
        command=["bwrap --version && setpriv --version && pypy3 -c 'print(7 * 6)' && stat -c %a /usr/bin/python3.11 "
                 "&& python3 -c 'import sys, nemo_pipeline.sandbox; print(sys.prefix)'"],
    ).decode()  # fmt: skip
    assert out.startswith("bubblewrap ") and "setpriv from util-linux" in out, out
    lines = out.splitlines()
    # pypy3 and Debian's python3 are readable and runnable by every uid; the server runs from the venv.
    assert lines[-3:] == ["42", "755", "/opt/nemo-pipeline/venv"], out


@pytest.mark.timeout(900)
def test_the_pipeline_image_runs_the_stages(docker_client, pipeline_image, repo: Path) -> None:
    out = docker_client.containers.run(
        PIPELINE_IMAGE, ["python3", "/opt/nemo-pipeline/src/pipeline/summarize_results.py", "--help"],
        network_mode="host", remove=True,
    ).decode()  # fmt: skip
    assert "usage" in out.lower()
    modules = "import aiohttp, httptools, math_verify, nltk, langdetect, hydra, nemo_pipeline.evaluation; print('ok')"
    assert docker_client.containers.run(PIPELINE_IMAGE, ["python3", "-c", modules], remove=True).decode() == "ok\n"


@pytest.mark.timeout(120)
def test_an_image_with_unchanged_inputs_is_reused(docker_client, sandbox_image, pipeline_image) -> None:
    for built in (sandbox_image, pipeline_image):
        again = build_image(docker_client, ImageBuild(f"dockerfiles/Dockerfile.{built.tag.split('/')[1].split(':')[0]}",
                                                      built.tag, base_image=BASE_IMAGE))  # fmt: skip
        assert (again.built, again.id) == (False, built.id)
    assert {sandbox_image.tag, pipeline_image.tag} == {SANDBOX_IMAGE, PIPELINE_IMAGE}


@pytest.mark.timeout(300)
def test_a_failing_build_names_the_dockerfile_with_its_log_tail(docker_client, base_image, tmp_path: Path) -> None:
    from nemo_pipeline.errors import ConfigError
    from nemo_pipeline.jobs.docker import ImageBuildError

    (tmp_path / "dockerfiles").mkdir()
    (tmp_path / "dockerfiles" / "Dockerfile.broken").write_text(
        "ARG BASE_IMAGE=debian:bookworm-20250630-slim\nFROM ${BASE_IMAGE}\nRUN echo step-output-7f3 && exit 3\n"
    )
    build = ImageBuild("dockerfiles/Dockerfile.broken", "nemo-pipeline/broken:test", base_image=base_image)
    with pytest.raises(
        ImageBuildError, match=r"(?s)Dockerfile.broken as nemo-pipeline/broken:test failed.*step-output-7f3"
    ):
        build_image(docker_client, build, tmp_path)
    missing = ImageBuild(
        "dockerfiles/Dockerfile.broken", "nemo-pipeline/broken:test", base_image="nemo-pipeline/none:0"
    )
    with pytest.raises(ConfigError, match=r"base image nemo-pipeline/none:0 .* scripts/build_base_image.sh"):
        build_image(docker_client, missing, tmp_path)
