"""The fetch_model command on its own, against moto's S3 server and the scripted Hub on loopback: a prefix is copied
whole, a repo snapshot too, a second run fetches nothing, and a missing object is a one-line error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.model_source import parse_model_source
from tests.fakes.hf_hub import FakeHub, Repo


def _fetch(repo: Path, env: dict[str, str], source: str, dest: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(repo / "pipeline" / "fetch_model.py"), "--source", source, "--dest", str(dest)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=repo, check=False)


@pytest.mark.timeout(180)
def test_an_s3_prefix_is_copied_whole_once_and_a_missing_object_fails_in_one_line(
    tmp_path,
    repo,
    env_with_repo,
    moto_s3,
):
    import boto3

    env = dict(env_with_repo, AWS_ENDPOINT_URL=moto_s3, AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s",
               AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")  # fmt: skip
    s3 = boto3.client("s3", endpoint_url=moto_s3, aws_access_key_id="k", aws_secret_access_key="s",
                      region_name="us-east-1")  # fmt: skip
    s3.create_bucket(Bucket="ckpts")
    files = {"run1/config.json": b'{"layers": 2}', "run1/shards/0.bin": b"\x00" * 4096, "other/x": b"no"}
    for key, body in files.items():
        s3.put_object(Bucket="ckpts", Key=key, Body=body)
    dest = Path(parse_model_source("s3://ckpts/run1/", "test").cache_path(str(tmp_path / "cache")))
    done = _fetch(repo, env, "s3://ckpts/run1/", dest)
    assert done.returncode == 0 and done.stdout.startswith("fetched"), done.stderr
    got = {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert got == {"config.json": files["run1/config.json"], "shards/0.bin": files["run1/shards/0.bin"]}
    s3.delete_object(Bucket="ckpts", Key="run1/config.json")  # a second fetch would now differ: it must not run
    again = _fetch(repo, env, "s3://ckpts/run1/", dest)
    assert again.returncode == 0 and again.stdout.startswith("already in the cache"), again.stderr
    assert (dest / "config.json").read_bytes() == files["run1/config.json"]

    missing = _fetch(repo, env, "s3://ckpts/nothing.gguf", tmp_path / "cache" / "x.gguf")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1, missing.stderr
    assert missing.stderr.startswith("error: cannot fetch s3://ckpts/nothing.gguf: ")
    assert not (tmp_path / "cache" / "x.gguf").exists()


@pytest.mark.timeout(120)
def test_an_hf_repo_snapshot_needs_the_token_of_a_gated_repo(tmp_path, repo, env_with_repo):
    (tmp_path / "w.bin").write_bytes(b"w" * 100)
    (tmp_path / "c.json").write_text("{}")
    dest = tmp_path / "cache" / "hf" / "org" / "gated"
    with FakeHub(
        {"org/gated": Repo({"config.json": tmp_path / "c.json", "w/w.bin": tmp_path / "w.bin"}, "tok")}
    ) as hub:
        env = dict(env_with_repo, HF_ENDPOINT=hub.url, HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1")
        env.pop("HF_TOKEN", None)
        refused = _fetch(repo, env, "hf://org/gated", dest)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "cannot fetch hf://org/gated" in refused.stderr and not dest.exists()
        assert [p.name for p in dest.parent.iterdir()] == ["gated.lock"]  # no partial copy is left behind
        done = _fetch(repo, dict(env, HF_TOKEN="tok"), "hf://org/gated", dest)
    assert done.returncode == 0, done.stderr
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == ["config.json", "w/w.bin"]
    assert (dest / "w" / "w.bin").read_bytes() == b"w" * 100


@pytest.mark.timeout(180)
def test_a_gs_object_and_a_gs_prefix_are_copied_once_and_a_missing_object_fails_in_one_line(
    tmp_path, repo, env_with_repo, gcs_emulator, monkeypatch
):
    from google.cloud import storage

    env = dict(env_with_repo, STORAGE_EMULATOR_HOST=gcs_emulator)
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)  # this process's client fills the emulator
    bucket = storage.Client().create_bucket("ckpts")
    files = {"run1/config.json": b'{"layers": 2}', "run1/shards/0.bin": os.urandom(3 << 20), "other/x": b"no"}
    for key, body in files.items():
        bucket.blob(key).upload_from_string(body)
    cache = str(tmp_path / "cache")
    one = Path(parse_model_source("gs://ckpts/run1/shards/0.bin", "test").cache_path(cache))
    assert one == tmp_path / "cache" / "gs" / "ckpts" / "run1" / "shards" / "0.bin"
    done = _fetch(repo, env, "gs://ckpts/run1/shards/0.bin", one)
    assert done.returncode == 0 and done.stdout.startswith("fetched"), done.stderr
    assert one.read_bytes() == files["run1/shards/0.bin"]

    folder = Path(parse_model_source("gs://ckpts/run1/", "test").cache_path(cache))
    done = _fetch(repo, env, "gs://ckpts/run1/", folder)
    assert done.returncode == 0 and done.stdout.startswith("fetched"), done.stderr
    got = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert got == {"config.json": files["run1/config.json"], "shards/0.bin": files["run1/shards/0.bin"]}
    bucket.blob("run1/config.json").delete()  # a second fetch would now differ: it must not run
    again = _fetch(repo, env, "gs://ckpts/run1/", folder)
    assert again.returncode == 0 and again.stdout.startswith("already in the cache"), again.stderr
    assert (folder / "config.json").read_bytes() == files["run1/config.json"]

    for missing in ("gs://ckpts/nothing.gguf", "gs://ckpts/none/", "gs://no-such-bucket/x.gguf"):
        dest = Path(parse_model_source(missing, "test").cache_path(cache))
        refused = _fetch(repo, env, missing, dest)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert refused.stderr.startswith(f"error: cannot fetch {missing}: "), refused.stderr
        assert not dest.exists()
