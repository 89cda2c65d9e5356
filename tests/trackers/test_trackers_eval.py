"""`++export.mlflow=URI` and `++export.wandb=PROJECT` through eval.py on the local backend against scripted models:
each model's configuration, metrics (every benchmark/subset metric with its standard error), summary table and report
reach the tracker, read back with the libraries themselves; a campaign logs one run per model, grouped; a rerun with
nothing new logs nothing; a bad tracker target is a one-line error before any server is contacted."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.datasets import load_items
from nemo_pipeline.trackers import mlflow_key
from tests.fakes.openai_server import Script, ScriptedServer


def _eval(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(repo / "pipeline" / "eval.py"), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=repo, check=False)


def _expected_metrics(run: Path) -> dict[str, float]:
    """metrics.json of every benchmark of a run as `benchmark/subset/metric` keys."""
    expected = {}
    for path in sorted((run / "eval-results").glob("*/metrics.json")):
        for subset, block in json.loads(path.read_text())["metrics"].items():
            for key, value in block.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    expected[f"{path.parent.name}/{subset}/{key}"] = float(value)
    return expected


def _wandb_runs(directory: Path) -> dict[str, dict[str, object]]:
    """Offline W&B runs under `directory`/wandb: display name -> group, project, config keys, logged metrics."""
    from wandb.proto import wandb_internal_pb2 as pb
    from wandb.sdk.internal.datastore import DataStore

    runs: dict[str, dict[str, object]] = {}
    for path in sorted(directory.glob("wandb/offline-run-*/run-*.wandb")):
        store = DataStore()
        store.open_for_scan(str(path))
        info: dict[str, object] = {"metrics": {}, "config": {}}
        while (data := store.scan_data()) is not None:
            record = pb.Record()
            record.ParseFromString(data)
            kind = record.WhichOneof("record_type")
            if kind == "run":
                info.update(name=record.run.display_name, group=record.run.run_group, project=record.run.project)
                info["config"] = {item.key: json.loads(item.value_json) for item in record.run.config.update}
            elif kind == "history":
                for item in record.history.item:  # a flat key, or (newer writers) a one-part nested key
                    key = item.key or (item.nested_key[0] if len(item.nested_key) == 1 else "")
                    if not key.startswith("_") and "/" in key:
                        info["metrics"][key] = json.loads(item.value_json)  # type: ignore[index]
        runs[str(info["name"])] = info
    return runs


@pytest.mark.timeout(600)
def test_campaign_logs_one_run_per_model_grouped_to_mlflow_and_wandb(tmp_path, repo, tracker_env):
    from mlflow import MlflowClient

    items = load_items("gsm8k")[:4]
    right = {item["problem"][:60]: f"The answer is {item['expected_answer']}." for item in items}
    half = dict(list(right.items())[:2])
    out = tmp_path / "campaign"
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    (tmp_path / "mlflow").mkdir()
    with ScriptedServer(Script(answers=right)) as a, ScriptedServer(Script(answers=half)) as b:
        models = tmp_path / "models.yaml"
        models.write_text(
            f"- name: strong\n  server_type: openai\n  server_address: {a.url}\n  baseline: true\n"
            f"- name: weak\n  server_type: openai\n  server_address: {b.url}\n"
        )
        args = ["--models", str(models), "--benchmarks", "gsm8k:2", "--output_dir", str(out), "++max_samples=4",
                f"++export.mlflow={uri}", "++export.wandb=evals"]  # fmt: skip
        done = _eval(repo, tracker_env, *args)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name("nemo-pipeline")
        assert experiment is not None
        runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
        assert set(runs) == {"campaign", "strong", "weak"}
        parent = runs["campaign"].info.run_id
        for name in ("strong", "weak"):
            run = runs[name]
            assert (
                run.data.tags["mlflow.parentRunId"] == parent and run.data.tags["nemo_pipeline.campaign"] == "campaign"
            )
            expected = _expected_metrics(out / name)
            assert "gsm8k/all/pass@1_std_err" in expected  # seeds give standard errors, and they are logged
            assert run.data.metrics == {mlflow_key(key): value for key, value in expected.items()}
            assert run.data.metrics["gsm8k/all/pass_at_1"] == expected["gsm8k/all/pass@1"]  # MLflow refuses '@'
            assert run.data.params["server_type"] == "openai" and run.data.params["config.max_samples"] == "4"
            files = {f.path for f in client.list_artifacts(run.info.run_id)}
            assert {"report.html", "summary.csv", "summary.md", "summary_table.json", "config.json"} <= files
            table = json.loads(
                Path(client.download_artifacts(run.info.run_id, "summary_table.json", str(tmp_path))).read_text()
            )
            assert any(row.get("benchmark") == "gsm8k" for row in table)
        assert {"report.html", "summary.csv"} <= {f.path for f in client.list_artifacts(parent)}

        logged = _wandb_runs(out)
        assert set(logged) == {"strong", "weak"}
        for name, info in logged.items():
            assert (info["group"], info["project"]) == ("campaign", "evals")
            assert info["metrics"] == _expected_metrics(out / name)
            assert info["config"]["server_type"] == "openai"  # type: ignore[index]

        # Nothing new: no job runs and nothing is logged twice.
        again = _eval(repo, tracker_env, *args)
        assert again.returncode == 0 and "nothing to do" in again.stdout, again.stderr[-2000:]
        assert len(client.search_runs([experiment.experiment_id])) == 3 and set(_wandb_runs(out)) == {"strong", "weak"}


@pytest.mark.timeout(300)
def test_a_single_model_run_logs_to_wandb_offline(tmp_path, repo, tracker_env):
    items = load_items("gsm8k")[:3]
    answers = {item["problem"][:60]: f"The answer is {item['expected_answer']}." for item in items}
    out = tmp_path / "run"
    with ScriptedServer(Script(answers=answers)) as server:
        done = _eval(repo, tracker_env, "--server_type", "openai", "--server_address", server.url, "--model",
                     "scripted", "--benchmarks", "gsm8k:0", "--output_dir", str(out), "++max_samples=3",
                     "++export.wandb=single")  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    logged = _wandb_runs(out)
    assert list(logged) == ["scripted"]  # a single run is named after its model
    assert logged["scripted"]["project"] == "single" and logged["scripted"]["group"] == ""
    assert logged["scripted"]["metrics"] == _expected_metrics(out)
    assert json.loads((out / "export.json").read_text())["export"] == ["--wandb", "single"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "override, hide, message",
    [
        ("++export.mlflow=http://127.0.0.1:{port}", None, "the MLflow server is unreachable"),
        ("++export.mlflow=ftp://example/x", None, "unsupported tracking URI scheme 'ftp'"),
        ("++export.mlflow=sqlite:///{tmp}/m.db", "mlflow", 'pip install "nemo-pipeline[mlflow]"'),
        ("++export.wandb=evals", "wandb", 'pip install "nemo-pipeline[wandb]"'),
        ("++export.wandb=evals", None, "no W&B API key"),
        ("++export.wandb=a/b", None, "a W&B project name"),
    ],
)
def test_a_bad_tracker_target_fails_in_one_line_before_any_server_is_contacted(
    tmp_path, repo, tracker_env, override, hide, message
):
    env = dict(tracker_env)
    env.pop("WANDB_MODE")  # online: the W&B checks apply
    env["HOME"] = str(tmp_path)  # no ~/.netrc with a W&B key
    if hide:  # the library is not installed: importlib finds no module of that name
        site = tmp_path / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(f"import sys\nsys.modules[{hide!r}] = None\n")
        env["PYTHONPATH"] = f"{site}:{env['PYTHONPATH']}"
    out = tmp_path / "out"
    with ScriptedServer(Script()) as server:
        done = _eval(repo, env, "--server_type", "openai", "--server_address", server.url, "--benchmarks", "gsm8k:0",
                     "--output_dir", str(out), override.format(port=_closed_port(), tmp=tmp_path))  # fmt: skip
        assert not server.script.requests
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (out / "eval-results").exists()
