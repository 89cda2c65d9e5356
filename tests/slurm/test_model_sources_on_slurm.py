"""A two-model campaign on the real single-node Slurm, one run shared by every assertion: the embedded GGUF served by
llama.cpp from its local path, and the same file as `s3://` (moto's S3 server on loopback), copied into the cluster
config's model cache by a fetch job before its server job starts. Greedy, one request at a time, the two models'
generations are equal item for item; the s3 model's `published:` scores reach the summary job's tables, and
report.html carries the side-by-side matrix. A second campaign on the same cache fetches nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.jsonl import read_jsonl
from nemo_pipeline.layout import sha256_file

ITEMS = 2
KEY = "gemma/model.gguf"


def _eval(repo: Path, env: dict[str, str], *args: str, timeout: int) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(repo / "pipeline" / "eval.py"), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=repo, check=False)


def _answers(run: Path, key: str) -> dict[str, str]:
    return {r["id"]: r[key] for r in read_jsonl(run / "eval-results" / "gsm8k" / "output.jsonl")}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_an_s3_model_is_fetched_by_a_slurm_job_and_answers_as_its_local_copy(
    slurm, embedded_model, moto_s3, tmp_path, repo, env_with_repo
):
    import boto3

    gguf = Path(embedded_model[1])
    env = dict(env_with_repo)
    env.update(
        AWS_ENDPOINT_URL=moto_s3, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
    )  # fmt: skip  # sbatch passes the submitting environment to the jobs: the fetch job finds the endpoint
    s3 = boto3.client("s3", endpoint_url=moto_s3, aws_access_key_id="testing", aws_secret_access_key="testing",
                      region_name="us-east-1")  # fmt: skip
    s3.create_bucket(Bucket="models")
    s3.upload_file(str(gguf), "models", KEY)
    cache = tmp_path / "shared-models"
    cluster = tmp_path / "slurm.yaml"
    cluster.write_text((repo / "conf" / "cluster" / "slurm-local.yaml").read_text() + f"model_cache: {cache}\n")
    (tmp_path / "scores.yaml").write_text(
        "models:\n  gemma-270m:\n"
        "    - {benchmark: gsm8k, shots: 5, metric: accuracy, value: 50.0, source: 'https://example.org/gemma',"
        " date: '2026-01-05'}\n"
    )
    models = tmp_path / "models.yaml"
    entries = (
        f"- name: local\n  model: {gguf}\n  baseline: true\n"
        f"- name: from-s3\n  model: s3://models/{KEY}\n  published: gemma-270m\n  published_file: scores.yaml\n"
    )
    out = tmp_path / "campaign"
    # Greedy and one request at a time: the two servers see the same requests in the same order.
    args = ["--cluster", str(cluster), "--models", str(models), "--benchmarks", "gsm8k:0", f"++max_samples={ITEMS}",
            "++inference.tokens_to_generate=32", "++server.parallel_requests=1"]  # fmt: skip

    models.write_text(entries.replace("published: gemma-270m", "published: gemma-27b"))
    bad = _eval(repo, env, *args, "--output_dir", str(out), "--wait", timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "key 'published': no published scores for 'gemma-27b'" in bad.stderr and not out.exists()

    models.write_text(entries)
    done = _eval(repo, env, *args, "--output_dir", str(out), "--wait", timeout=840)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    submitted = [line.split()[1].rstrip(":") for line in done.stdout.splitlines() if line.startswith("submitted ")]
    fetch_jobs = [name for name in submitted if "fetch-model-" in name]
    assert len(fetch_jobs) == 1 and "compare" in submitted, done.stdout[-3000:]
    copy = cache / "s3" / "models" / KEY
    assert sha256_file(copy) == sha256_file(gguf)
    for name, served in (("local", gguf), ("from-s3", copy)):
        settings = json.loads((out / name / "eval-results" / "gsm8k" / "output.jsonl.settings").read_text())
        assert settings["server.model"] == str(served)
        assert (out / name / "logs" / "generate-gsm8k" / "server.log").stat().st_size > 0  # llama.cpp ran there
    local, fetched = _answers(out / "local", "generation"), _answers(out / "from-s3", "generation")
    assert len(local) == ITEMS and local == fetched and all(local.values())

    # The summary job's tables: the published number beside the run's, the delta, the verdict.
    accuracy = json.loads((out / "from-s3" / "eval-results" / "gsm8k" / "metrics.json").read_text())
    accuracy = accuracy["metrics"]["all"]["accuracy"]
    (published,) = json.loads((out / "summary.json").read_text())["published"]
    (gsm8k,) = published["benchmarks"]
    assert (published["run"], published["published"], gsm8k["status"]) == ("from-s3", "gemma-270m", "compared")
    assert gsm8k["run_value"] == accuracy and gsm8k["delta"] == pytest.approx(accuracy - 50.0)
    verdict = published["verdict"]
    assert verdict.startswith(f"from-s3 against published gemma-270m: above on {int(accuracy > 50)} of 1 ")
    # the model's own summary names it by its entry too, as the campaign's does
    for table in ((out / "summary.md").read_text(), (out / "from-s3" / "summary.md").read_text()):
        assert "published setting" in table and verdict in table and "https://example.org/gemma" in table
    assert "published setting" not in (out / "local" / "summary.md").read_text()
    # report.html: the matrix, one row per item, one cell per model, the two answers the same.
    page = (out / "report.html").read_text()
    assert '<h2 id="matrix">Side by side</h2>' in page
    found = re.search(r'<script type="application/json" id="np-items">(.*?)</script>', page, re.S)
    assert found is not None
    matrix = json.loads(found.group(1))["matrix"]
    assert matrix["models"] == ["local", "from-s3"] and len(matrix["rows"]) == ITEMS
    predicted = _answers(out / "local", "predicted_answer")
    for row in matrix["rows"]:
        left, right = row[-2:]
        assert left[:2] == right[:2] and (left[1] or None) == predicted[row[2]]

    # Another campaign on the same cache, the object gone from the bucket: nothing is fetched, the copy is served.
    s3.delete_object(Bucket="models", Key=KEY)
    again = _eval(repo, env, *args, "--output_dir", str(tmp_path / "again"), "--dry_run", timeout=120)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "fetch-model-" not in again.stdout and not list((tmp_path / "again").rglob("fetch-model-*"))
    assert f"--model {copy}" in (tmp_path / "again" / "from-s3" / "jobs" / "generate-gsm8k.sbatch").read_text()
