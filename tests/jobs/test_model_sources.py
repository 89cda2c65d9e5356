"""Models named by source URI through eval.py: a campaign whose models are `s3://` (a local S3-compatible server on
loopback: moto's), `gs://` (a local GCS emulator on loopback) and `hf://` (a scripted Hub on loopback, a gated repo
that needs HF_TOKEN) is fetched by a job
into the cluster config's model cache before each server starts, served from there by the real llama.cpp, and not
fetched again; a bad URI is a one-line error before anything starts; on Slurm the fetch job comes first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.layout import sha256_file
from tests.fakes.hf_hub import FakeHub, Repo


def _eval(repo: Path, env: dict[str, str], *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(repo / "pipeline" / "eval.py"), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=repo, check=False)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_s3_gs_and_hf_models_are_fetched_once_before_their_servers_start(
    tmp_path, repo, env_with_repo, embedded_model, moto_s3, gcs_emulator, monkeypatch
):
    import boto3
    from google.cloud import storage

    gguf = Path(embedded_model[1])
    env = dict(env_with_repo)
    env.update(
        AWS_ENDPOINT_URL=moto_s3, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", HF_TOKEN="hf-secret",
        HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1", STORAGE_EMULATOR_HOST=gcs_emulator,
    )  # fmt: skip
    s3 = boto3.client("s3", endpoint_url=moto_s3, aws_access_key_id="testing", aws_secret_access_key="testing",
                      region_name="us-east-1")  # fmt: skip
    s3.create_bucket(Bucket="models")
    s3.upload_file(str(gguf), "models", "gemma/model.gguf")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    storage.Client().create_bucket("gmodels").blob("gemma/model.gguf").upload_from_filename(str(gguf))
    cache = tmp_path / "cache"
    cluster = tmp_path / "local.yaml"
    cluster.write_text(f"backend: local\nmodel_cache: {cache}\n")
    models = tmp_path / "models.yaml"
    models.write_text(
        "- name: from-s3\n  model: s3://models/gemma/model.gguf\n  baseline: true\n"
        "- name: from-hf\n  model: hf://org/gemma-gguf/model.gguf\n"
        "- name: from-gs\n  model: gs://gmodels/gemma/model.gguf\n"
    )
    with FakeHub({"org/gemma-gguf": Repo({"model.gguf": gguf}, token="hf-secret")}) as hub:
        env["HF_ENDPOINT"] = hub.url
        # The server starting on the fetched copy is the point, not the answers: short ones.
        args = ["--cluster", str(cluster), "--models", str(models), "--benchmarks", "gsm8k:0", "++max_samples=1",
                "++inference.tokens_to_generate=16"]  # fmt: skip
        done = _eval(repo, env, *args, "--output_dir", str(tmp_path / "first"))
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
        copies = {"from-s3": cache / "s3" / "models" / "gemma" / "model.gguf",
                  "from-hf": cache / "hf" / "org" / "gemma-gguf" / "model.gguf",
                  "from-gs": cache / "gs" / "gmodels" / "gemma" / "model.gguf"}  # fmt: skip
        for name, copy in copies.items():
            assert sha256_file(copy) == sha256_file(gguf), name
            run = tmp_path / "first" / name
            settings = json.loads((run / "eval-results" / "gsm8k" / "output.jsonl.settings").read_text())
            assert settings["server.model"] == str(copy)  # the server was started on the fetched copy
            assert json.loads((run / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
        assert done.stdout.count("] COMPLETED") >= 3 and "fetch-model-" in done.stdout
        downloads = [r for r in hub.requests if r[0] == "GET" and r[1].endswith("/model.gguf")]
        assert len(downloads) == 1 and all(auth == "Bearer hf-secret" for _, _, auth in hub.requests)

        # Another output directory, the same cache: no fetch job, and the Hub is not asked again.
        seen = len(hub.requests)
        again = _eval(repo, env, *args, "--output_dir", str(tmp_path / "second"), "--dry_run")
        assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-3000:]
        assert "fetch-model-" not in again.stdout and len(hub.requests) == seen
        assert all(f"++server.model={copy}" in again.stdout for copy in copies.values())  # served from the copies


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "model, message",
    [
        ("hf://just-a-name", "'hf://just-a-name' is not a valid hf source; write hf://ORG/NAME"),
        ("s3://B", "'s3://B' is not a valid s3 source"),
        ("ftp://host/model", "'ftp://host/model' has an unknown scheme"),
        ("hf://org/name/../../etc", "'hf://org/name/../../etc': the file part must be a path inside the repo"),
    ],
)
def test_a_bad_model_source_is_one_line_error_naming_the_entry(tmp_path, repo, env_with_repo, model, message):
    models = tmp_path / "models.yaml"
    models.write_text(f"- name: good\n- name: bad\n  model: {model}\n")
    done = _eval(repo, env_with_repo, "--models", str(models), "--benchmarks", "gsm8k:0", "--output_dir",
                 str(tmp_path / "out"), timeout=60)  # fmt: skip
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"entry 'bad': model: {message}" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.timeout(120)
def test_slurm_dry_run_fetches_into_the_cluster_cache_before_the_server_job(tmp_path, repo, env_with_repo):
    cluster = tmp_path / "slurm.yaml"
    base = (repo / "conf" / "cluster" / "slurm.yaml").read_text()
    cluster.write_text(base)
    args = ["--cluster", str(cluster), "--model", "hf://org/name", "--server_type", "vllm", "--server_gpus", "1",
            "--benchmarks", "gsm8k:0", "--output_dir", str(tmp_path / "out"), "--dry_run"]  # fmt: skip
    refused = _eval(repo, env_with_repo, *args, timeout=60)
    assert refused.returncode == 2 and "names no model_cache" in refused.stderr, refused.stderr

    cluster.write_text(base + f"model_cache: {tmp_path / 'shared-models'}\n")
    done = _eval(repo, env_with_repo, *args, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    jobs = tmp_path / "out" / "jobs"
    fetch = next(jobs.glob("fetch-model-*.sbatch"))
    dest = str(tmp_path / "shared-models" / "hf" / "org" / "name")
    assert "nemo_pipeline.commands.fetch_model --source hf://org/name --dest " + dest in fetch.read_text()
    assert f"--model {dest}" in (jobs / "generate-gsm8k.sbatch").read_text()
    submit = (jobs / "submit.sh").read_text().splitlines()
    assert submit[3:5] == [f"# {fetch.stem}", f"id_0=$(sbatch --parsable {fetch} | cut -d';' -f1)"]
    assert submit[7].startswith('id_1=$(sbatch --parsable "--dependency=afterok:${id_0}"')
    assert submit[7].endswith("generate-gsm8k.sbatch | cut -d';' -f1)")


@pytest.mark.timeout(60)
def test_a_judge_model_given_as_a_source_uri_is_refused_before_anything_starts(tmp_path, repo, env_with_repo):
    done = _eval(repo, env_with_repo, "--benchmarks", "gsm8k:0", "--output_dir", str(tmp_path / "out"),
                 "++judge.server.model=hf://org/judge", timeout=60)  # fmt: skip
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "judge.server.model 'hf://org/judge': judge models are not fetched" in done.stderr
    assert not (tmp_path / "out").exists()
