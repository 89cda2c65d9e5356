"""The docker backend's fetch job on the real engine: a dry run names the job (the pipeline image, the model cache
mounted, the cluster config's `env:`), and that container, run as the backend runs it, copies an `s3://` object
(moto's server) and a `gs://` prefix (gcp-storage-emulator) from loopback into the cache, then finds them there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.model_source import parse_model_source
from tests.docker.conftest import PIPELINE_IMAGE

CLUSTER = "conf/cluster/docker-local.yaml"


def _fetch_container(
    repo: Path, run_env: dict[str, str], env: dict[str, str], tmp_path: Path, cache: Path, uri: str
) -> dict[str, Any]:
    """The fetch job's container spec, from eval.py's dry run on the docker backend."""
    cluster = tmp_path / "docker.yaml"
    config = (repo / CLUSTER).read_text().replace("mounts: []", f'mounts: ["{cache}:{cache}"]')
    env_lines = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in sorted(env.items()))
    cluster.write_text(config.replace("env: {}", "env:\n" + env_lines) + f"model_cache: {cache}\n")
    out = tmp_path / ("plan-" + uri.split(":")[0])
    argv = [sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", str(cluster), "--model", uri,
            "--benchmarks", "gsm8k:0", "--output_dir", str(out), "--dry_run"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=repo, env=run_env, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (spec,) = (out / "jobs").glob("fetch-model-*.docker.json")
    (container,) = json.loads(spec.read_text())["containers"]
    return dict(container)


@pytest.mark.timeout(900)
def test_the_fetch_job_runs_in_the_pipeline_image(
    docker_client, pipeline_image, moto_s3, gcs_emulator, monkeypatch, tmp_path, repo, env_with_repo
):
    import boto3
    from google.cloud import storage

    s3 = boto3.client("s3", endpoint_url=moto_s3, aws_access_key_id="k", aws_secret_access_key="s",
                      region_name="us-east-1")  # fmt: skip
    s3.create_bucket(Bucket="models")
    weights = b"GGUF" + bytes(range(256)) * 4096
    s3.put_object(Bucket="models", Key="gemma/model.gguf", Body=weights)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    bucket = storage.Client().create_bucket("gmodels")
    folder = {"config.json": b'{"layers": 2}', "shards/0.bin": weights[::-1]}
    for name, body in folder.items():
        bucket.blob(f"run1/{name}").upload_from_string(body)
    cache = tmp_path / "cache"
    cache.mkdir()
    sources = {
        "s3://models/gemma/model.gguf": {"AWS_ENDPOINT_URL": moto_s3, "AWS_ACCESS_KEY_ID": "k",
                                         "AWS_SECRET_ACCESS_KEY": "s", "AWS_DEFAULT_REGION": "us-east-1",
                                         "AWS_EC2_METADATA_DISABLED": "true"},
        "gs://gmodels/run1/": {"STORAGE_EMULATOR_HOST": gcs_emulator},
    }  # fmt: skip
    for uri, env in sources.items():
        container = _fetch_container(repo, env_with_repo, env, tmp_path, cache, uri)
        dest = parse_model_source(uri, "test").cache_path(str(cache))
        assert container["image"] == PIPELINE_IMAGE and container["command"][-2:] == ["--dest", dest]
        assert container["volumes"][str(cache)]["mode"] == "rw" and container["network_mode"] == "host"
        assert env.items() <= container["environment"].items()
        kwargs = {k: container[k] for k in ("command", "working_dir", "volumes", "environment", "network_mode")}
        for first in (True, False):
            printed = docker_client.containers.run(container["image"], remove=True, **kwargs).decode()
            assert printed.startswith("fetched " if first else "already in the cache: "), printed
    assert (cache / "s3" / "models" / "gemma" / "model.gguf").read_bytes() == weights
    copy = cache / "gs" / "gmodels" / "run1"
    assert {str(p.relative_to(copy)): p.read_bytes() for p in copy.rglob("*") if p.is_file()} == folder
