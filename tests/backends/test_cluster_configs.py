"""Cluster configs of the optional backends: the shipped files load, wrong keys and types fail naming file and key,
a missing library names its extra. No backend library is needed here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import nemo_pipeline.jobs.docker
import nemo_pipeline.jobs.nemo_run
import nemo_pipeline.jobs.skypilot  # noqa: F401
from nemo_pipeline.errors import ConfigError, MissingExtraError
from nemo_pipeline.jobs._backend import BACKENDS, ClusterSpec, load_cluster_spec
from nemo_pipeline.jobs._cluster_schema import settings_from_spec
from nemo_pipeline.jobs.docker import DockerClusterConfig
from nemo_pipeline.jobs.nemo_run import NemoRunClusterConfig
from nemo_pipeline.jobs.skypilot import SkyPilotClusterConfig

CONF = Path(__file__).resolve().parents[2] / "conf"
SCHEMAS = {"nemo-run": NemoRunClusterConfig, "skypilot": SkyPilotClusterConfig, "docker": DockerClusterConfig}


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("name", "backend"),
    [("nemo-run-local", "nemo-run"), ("skypilot-example", "skypilot"), ("docker-local", "docker")],
)
def test_shipped_cluster_files_load(name: str, backend: str) -> None:
    spec = load_cluster_spec(name, CONF)
    assert spec.backend == backend
    settings: object = settings_from_spec(SCHEMAS[backend], spec)
    assert settings is not None


def _spec(tmp_path: Path, backend: str, text: str) -> ClusterSpec:
    path = tmp_path / "cluster.yaml"
    path.write_text(f"backend: {backend}\n{text}")
    return load_cluster_spec(str(path), CONF)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("backend", "text", "message"),
    [
        ("nemo-run", "acount: x\n", r"unknown key 'acount'. Did you mean 'account'"),
        ("nemo-run", "gpus_per_node: many\n", r"key 'gpus_per_node' must be int, got 'many'"),
        ("nemo-run", "srun_args: --overlap\n", r"key 'srun_args' must be a list of strings"),
        ("nemo-run", "tunnel: ssh\n", r"'tunnel': 'ssh' is not supported"),
        ("skypilot", "store: s3\n", r"missing 1 required positional argument: 'bucket'"),
        ("skypilot", "bucket: b-1\nuse_spot: maybe\n", r"key 'use_spot' must be bool, got 'maybe'"),
        ("skypilot", "bucket: b-1\nmodels: {/m: ftp://x}\n", r"'models': source 'ftp://x' of /m is not"),
        ("skypilot", "bucket: b-1\nmodels: {m: s3://x}\n", r"mount path 'm' must be absolute"),
        ("skypilot", "bucket: b-1\nenv: [A]\n", r"key 'env' must be a mapping"),
        ("docker", "images: {server: [a]}\n", r"key 'images' must be a mapping of strings to strings"),
        ("docker", "mounts: [models]\n", r"'mounts': 'models' is not 'host_path:container_path"),
        ("docker", "grace: 3\n", r"unknown key 'grace'. Did you mean 'grace_s'"),
    ],
)
def test_wrong_keys_and_types_name_file_and_key(tmp_path: Path, backend: str, text: str, message: str) -> None:
    spec = _spec(tmp_path, backend, text)
    with pytest.raises(ConfigError, match=message) as caught:
        BACKENDS.get(backend)(spec)
    assert str(caught.value).startswith(f"cluster config {tmp_path / 'cluster.yaml'}: ")


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("backend", "module", "extra", "text"),
    [("nemo-run", "nemo_run", "nemo-run", ""), ("skypilot", "sky", "skypilot", "bucket: b-1\n")],
)
def test_missing_library_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str, module: str, extra: str, text: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(MissingExtraError) as caught:
        BACKENDS.get(backend)(_spec(tmp_path, backend, text))
    message = str(caught.value)
    assert f'pip install "nemo-pipeline[{extra}]"' in message
    assert "\n" not in message


@pytest.mark.timeout(60)
def test_importing_nemo_pipeline_needs_no_backend_library() -> None:
    import subprocess

    code = (
        "import sys\n"
        "for name in ('nemo_run', 'sky', 'docker'): sys.modules[name] = None\n"
        "import nemo_pipeline, nemo_pipeline.jobs.nemo_run, nemo_pipeline.jobs.skypilot, nemo_pipeline.jobs.docker\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.stdout.strip() == "ok", proc.stderr
