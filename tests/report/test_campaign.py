"""Campaign summaries: models side by side against the baseline model, their descriptions, time, GPU-hours and
cost from job records, and a std error on every headline number. Metrics come from the real compute-metrics stage."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.config import MetricsConfig
from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.evaluation.metrics import compute_metrics
from nemo_pipeline.evaluation.stages import run_compute_metrics
from nemo_pipeline.layout import RunLayout
from nemo_pipeline.records import JobRecord, write_job_record
from nemo_pipeline.report import (
    build_campaign_summary,
    build_summary,
    load_run,
    proportion_std_err,
    run_cost,
    to_csv,
    to_html,
    to_markdown,
    to_text,
)

from .conftest import write_run

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "pipeline" / "summarize_results.py"
RATE = 2.5
AIME_TASKS = [f"eval-results/aime25/output-rs{s}.jsonl" for s in range(4)]

MODELS: list[dict[str, Any]] = [
    {
        "name": "base",
        "model": "/models/base-7b",
        "server_type": "vllm",
        "overrides": ["++prompt_config=generic/math"],
        "baseline": True,
    },
    {"name": "ft", "model": "/models/ft-7b", "server_type": "sglang", "overrides": ["++inference.temperature=0.6"]},
    {"name": "rl", "model": "/models/rl-7b", "server_type": "vllm"},  # never ran: no folder at all
]


def _metrics(run: Path, benchmark: str) -> dict[str, float]:
    """The real compute-metrics stage over the graded fixture files; returns the 'all' block it wrote."""
    metrics = run_compute_metrics(MetricsConfig(benchmark_dir=str(run / "eval-results" / benchmark)))
    block: dict[str, float] = metrics["metrics"]["all"]
    return block


def _write_job(layout: RunLayout, record: JobRecord) -> None:
    write_job_record(layout.job_record_file(record.job), record)


def _campaign(out: Path) -> Path:
    """Two models that ran (greedy gsm8k, 4-seed aime25) and one that did not; math500 was asked for, never run."""
    out.mkdir()
    campaign = {
        "models": MODELS,
        "benchmarks": ["gsm8k:0", "aime25:4", "math500:0"],
        "cluster": "slurm",
        "cost_per_gpu_hour": RATE,
    }
    (out / "campaign.json").write_text(json.dumps(campaign))
    gsm_base = {f"q-{i}": [i < 5] for i in range(10)}  # 50 %
    gsm_ft = {f"q-{i}": [i < 9] for i in range(10)}  # 90 %: 4 items only ft gets right, none only base
    aime_base = {f"a-{i}": [True, False, False, False] for i in range(5)}  # seeds 100, 0, 0, 0 -> 25 ± 25
    aime_ft = {f"a-{i}": [True, True, False, False] for i in range(5)}  # seeds 100, 100, 0, 0 -> 50 ± 28.87
    for name, gsm, aime in (("base", gsm_base, aime_base), ("ft", gsm_ft, aime_ft)):
        run = out / name
        write_run(run, "gsm8k", gsm, write_metrics=False)
        write_run(run, "aime25", aime, num_seeds=4, write_metrics=False)
        for bench in ("gsm8k", "aime25"):
            _metrics(run, bench)
    base, ft = RunLayout(out / "base"), RunLayout(out / "ft")
    # base: one grouped server job for both benchmarks (10 gsm8k lines, 4 x 5 aime25 lines), then grading, summary
    tasks = ["eval-results/gsm8k/output.jsonl", *AIME_TASKS]
    _write_job(base, JobRecord("generate-0", "COMPLETED", 3600.0, 8, None, 1000.0, 4600.0, tasks))
    _write_job(base, JobRecord("evaluate-gsm8k", "COMPLETED", 60.0, 0, "gsm8k", 4600.0, 4660.0))
    _write_job(base, JobRecord("summarize", "COMPLETED", 5.0, 0, None, 4660.0, 4665.0))
    # ft: one server job per benchmark; the aime25 one failed after 15 minutes (its GPU time still counts)
    _write_job(ft, JobRecord("generate-gsm8k", "COMPLETED", 1800.0, 8, "gsm8k", 2000.0, 3800.0))
    _write_job(ft, JobRecord("generate-aime25", "FAILED", 900.0, 8, "aime25", 2000.0, 2900.0))
    return out


@pytest.mark.timeout(120)
def test_two_model_campaign_golden(tmp_path: Path) -> None:
    out = _campaign(tmp_path / "campaign")
    summary = build_summary([out])  # the campaign directory alone: no sub-directories listed
    assert [r.name for r in summary.runs] == ["base", "ft", "rl"] and summary.baseline == "base"
    assert summary.benchmarks == ["aime25", "gsm8k", "math500"]

    # the comparison numbers are the per-model metrics.json numbers; deltas are their differences
    metrics = {(m, b): _metrics(out / m, b) for m in ("base", "ft") for b in ("gsm8k", "aime25")}
    gsm = summary.comparison("ft", "gsm8k", "all")
    assert gsm is not None and gsm.metric == "accuracy"
    assert (gsm.model_value, gsm.baseline_value) == (metrics["ft", "gsm8k"]["accuracy"], 50.0)
    assert gsm.delta == pytest.approx(40.0)
    assert gsm.test is not None and gsm.test.test == "mcnemar-exact"
    assert (gsm.test.only_baseline, gsm.test.only_model, gsm.test.p_value) == (0, 4, 0.125)
    aime = summary.comparison("ft", "aime25", "all")
    assert aime is not None and aime.metric == "pass@1" and aime.test is not None
    assert (aime.model_value, aime.baseline_value) == (metrics["ft", "aime25"]["pass@1"], 25.0)
    assert aime.delta == pytest.approx(25.0) and aime.test.test == "paired-bootstrap"
    assert summary.comparison("rl", "gsm8k", "all") is None

    # every headline number has its std error: greedy over items, seeded over seeds
    assert metrics["base", "gsm8k"]["accuracy_std_err"] == pytest.approx(100 * math.sqrt(0.25 / 9))  # 16.67
    assert metrics["ft", "gsm8k"]["accuracy_std_err"] == pytest.approx(10.0)
    assert metrics["base", "aime25"]["pass@1_std_err"] == pytest.approx(25.0)
    markdown = to_markdown(summary)
    gsm_row = next(line for line in markdown.splitlines() if line.startswith("| gsm8k |"))
    assert "50.00 ± 16.67" in gsm_row and "90.00 ± 10.00" in gsm_row and "+40.00 (p=0.125)" in gsm_row
    assert "25.00 ± 25.00" in markdown and "50.00 ± 28.87" in markdown

    # time, GPU-hours and cost: base's grouped job splits 1/3 : 2/3 by lines (10 gsm8k, 20 aime25)
    base_cost, ft_cost = summary.costs["base"], summary.costs["ft"]
    assert base_cost.by_benchmark["gsm8k"].gpu_hours == pytest.approx(8 / 3)
    assert base_cost.by_benchmark["gsm8k"].wall_s == pytest.approx(1200 + 60)
    assert base_cost.by_benchmark["aime25"].gpu_hours == pytest.approx(16 / 3)
    assert base_cost.overhead.wall_s == 5.0 and base_cost.total.gpu_hours == pytest.approx(8.0)
    assert base_cost.cost(base_cost.total) == pytest.approx(20.0) and base_cost.elapsed_s == pytest.approx(3665.0)
    assert ft_cost.cost(ft_cost.by_benchmark["gsm8k"]) == pytest.approx(10.0)
    assert ft_cost.cost(ft_cost.total) == pytest.approx(15.0) and ft_cost.not_ok == ("generate-aime25 (FAILED)",)
    assert "rl" not in summary.costs

    rows = {(r["model"], r["benchmark"], r["subset"]): r for r in csv.DictReader(io.StringIO(to_csv(summary)))}
    assert float(rows["base", "gsm8k", "all"]["gpu_hours"]) == pytest.approx(8 / 3)
    assert float(rows["base", "gsm8k", "all"]["cost"]) == pytest.approx(8 / 3 * RATE)
    assert float(rows["ft", "gsm8k", "all"]["accuracy_std_err"]) == pytest.approx(10.0)
    assert rows["rl", "gsm8k", "all"]["status"] == "missing"

    text = to_text(summary)
    assert "gen_seconds" not in text and "sum_item_seconds" not in text  # not a wall time: not in the tables
    assert "21m 00s" in text and "20.00" in text and "15.00" in text and "elapsed 1h 01m" in text
    missing = {(m, b): summary.missing_reason(m, bench, b) for m, bench, b in summary.missing()}
    assert "no results" in missing["rl", "gsm8k"] and str(out / "rl") in missing["rl", "gsm8k"]
    assert missing["base", "math500"] == "no folder for this benchmark"
    assert f"MISSING every benchmark (rl): no results: {out / 'rl'} does not exist (nothing ran)" in text
    assert "MISSING gsm8k (rl)" not in text and "MISSING math500 (base): no folder for this benchmark" in text

    html = to_html(summary)
    for model in MODELS:
        assert str(model["model"]) in html and str(model["server_type"]) in html
    assert "++prompt_config=generic/math" in html and "++inference.temperature=0.6" in html
    assert "base: 50.00 ± 16.67" in html and "ft: 90.00 ± 10.00" in html  # bar tooltips of the greedy whiskers
    assert html.count('class="err"') >= 3 * 4  # a whisker and two caps per bar with a std error
    assert 'id="cost"' in html and "8.000" in html
    assert "<b>every benchmark</b> (rl): missing — no results:" in html and "<b>gsm8k</b> (rl)" not in html


@pytest.mark.timeout(120)
def test_campaign_cli_writes_files_into_the_campaign_dir(tmp_path: Path) -> None:
    out = _campaign(tmp_path / "campaign")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "base (baseline)" in result.stdout and "/models/ft-7b" in result.stdout
    data = json.loads((out / "summary.json").read_text())
    assert data["baseline"] == "base" and data["campaign"]["cost_per_gpu_hour"] == RATE
    runs = {r["name"]: r for r in data["runs"]}
    assert runs["ft"]["model"] == {
        "model": "/models/ft-7b",
        "server_type": "sglang",
        "overrides": ["++inference.temperature=0.6"],
        "baseline": False,
    }
    assert runs["base"]["usage"]["benchmarks"]["aime25"]["cost"] == pytest.approx(16 / 3 * RATE)
    assert runs["rl"]["problem"].startswith("no results") and runs["rl"]["usage"] is None
    for name in ("summary.md", "summary.csv", "report.html"):
        assert (out / name).stat().st_size > 100
    cheaper = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), "--cost-per-gpu-hour", "1"], capture_output=True, text=True, timeout=60
    )
    assert cheaper.returncode == 0 and "cost @ 1 per GPU-h" in cheaper.stdout
    usage = {r["name"]: r["usage"] for r in json.loads((out / "summary.json").read_text())["runs"]}
    assert usage["base"]["total"]["cost"] == pytest.approx(8.0) and usage["ft"]["cost_per_gpu_hour"] == 1.0
    again = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), str(out / "base")], capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 1 and "campaign directory" in again.stderr


@pytest.mark.timeout(60)
def test_campaign_json_errors_name_the_file_and_key(tmp_path: Path) -> None:
    out = tmp_path / "c"
    out.mkdir()
    two = {"models": [{"name": "a", "baseline": True}, {"name": "b", "baseline": True}], "benchmarks": []}
    (out / "campaign.json").write_text(json.dumps(two))
    with pytest.raises(DataError, match=r"campaign\.json: more than one model has baseline: true"):
        build_campaign_summary(out)
    (out / "campaign.json").write_text(json.dumps({"models": [{"name": "a"}], "cost_per_gpu_hour": "cheap"}))
    with pytest.raises(DataError, match="cost_per_gpu_hour should be a number"):
        build_campaign_summary(out)
    (out / "campaign.json").write_text(json.dumps({"models": [{"name": "a"}], "benchmarks": ["x:0"]}))
    summary = build_campaign_summary(out)  # no baseline: no deltas, and it says so
    assert summary.baseline is None and summary.comparisons == ()
    assert any("no model baseline: true" in w for w in summary.warnings)
    with pytest.raises(ConfigError, match="pass it alone"):
        build_summary([out], baseline=out)
    (out / "campaign.json").write_text(json.dumps({"models": [{"name": "a", "baseline": True}, {"name": "b"}]}))
    summary = build_campaign_summary(out)  # the baseline never ran: every cell missing, no deltas, and it says so
    assert summary.baseline == "a" and summary.comparisons == ()
    assert "the baseline a has no results, so no deltas are shown" in summary.warnings


@pytest.mark.timeout(60)
def test_old_metrics_json_stays_readable_and_gets_the_same_std_err(tmp_path: Path) -> None:
    """Files written before the rename: gen_seconds -> sum_item_seconds, accuracy_std_err from accuracy and n."""
    run = write_run(tmp_path / "old", "gsm8k", {f"q-{i}": [i % 3 == 0] for i in range(7)})  # 3 of 7 correct
    path = run / "eval-results" / "gsm8k" / "metrics.json"
    old = json.loads(path.read_text())
    old["metrics"]["all"]["gen_seconds"] = old["metrics"]["all"].pop("sum_item_seconds")
    path.write_text(json.dumps(old))
    block = load_run(run).benchmarks["gsm8k"].metrics["all"]  # type: ignore[index]
    assert "gen_seconds" not in block and block["sum_item_seconds"] == old["metrics"]["all"]["gen_seconds"]
    records = [json.loads(line) for line in (path.parent / "output.jsonl").read_text().splitlines()]
    fresh = compute_metrics({None: records})["metrics"]["all"]
    assert block["accuracy_std_err"] == pytest.approx(fresh["accuracy_std_err"], rel=1e-12)
    assert fresh["accuracy_std_err"] == pytest.approx(100 * math.sqrt((3 / 7) * (4 / 7) / 6))
    assert proportion_std_err(100.0, 50) == 0.0 and proportion_std_err(50.0, 1) == 0.0


@pytest.mark.timeout(60)
def test_grouped_job_splits_per_task_when_files_are_gone_and_run_json_rate(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", "gsm8k", {f"q-{i}": [True] for i in range(4)}, model="/m")
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "server_type": "vllm", "cost_per_gpu_hour": 4.0}))
    tasks = ["eval-results/gsm8k/output.jsonl", "eval-results/math/output-rs0-chunk1.jsonl"]  # 2nd merged away
    _write_job(RunLayout(run), JobRecord("generate-0", "TIMEOUT", 1800.0, 2, None, 0.0, 0.0, tasks))
    cost = run_cost(run, 4.0)
    assert cost.by_benchmark["gsm8k"].gpu_hours == pytest.approx(0.5)
    assert cost.by_benchmark["math"].wall_s == pytest.approx(900.0) and cost.elapsed_s is None
    assert cost.notes and "split per task" in cost.notes[0]
    summary = build_summary([run])
    assert summary.costs[summary.runs[0].name].cost_per_gpu_hour == 4.0
    text = to_text(summary)
    assert "cost @ 4 per GPU-h" in text and "generate-0 (TIMEOUT)" in text and "split per task" in text


@pytest.mark.timeout(60)
def test_a_missing_benchmark_names_the_failed_job_and_its_error(tmp_path: Path) -> None:
    run = write_run(tmp_path / "failed_run", "gsm8k", {f"q-{i}": [True] for i in range(3)}, model="/m")
    write_run(run, "gpqa", {f"g-{i}": [False] for i in range(2)}, write_metrics=False)
    write_run(run, "math", {f"m-{i}": [True] for i in range(2)}, write_metrics=False)
    layout = RunLayout(run)
    tasks = [f"eval-results/{b}/output.jsonl" for b in ("gsm8k", "gpqa", "math")]
    _write_job(layout, JobRecord("generate", "FAILED", 20.0, 1, None, 1.0, 21.0, tasks))
    _write_job(layout, JobRecord("evaluate-gsm8k", "COMPLETED", 2.0, 0, "gsm8k", 21.0, 23.0))
    layout.main_log("generate").write_text(
        f"INFO x: generate: {run}/eval-results/math/output.jsonl: 2 of 2 item(s) written\n"  # 'failed' in the path
        f"ERROR nemo_pipeline.inference.generate: generate: {run}/eval-results/gpqa/output.jsonl failed: "
        "2 of 2 item(s) failed after bounded retries; first error: HTTP 400: refused\n"
        "error: 1 of 3 generate task(s) failed\n"
    )
    summary = build_summary([run])
    name = summary.runs[0].name
    gpqa = summary.missing_reason(name, summary.runs[0].benchmarks["gpqa"], "gpqa")
    assert gpqa.startswith("no metrics.json")
    assert "job generate FAILED: generate: eval-results/gpqa/output.jsonl" in gpqa
    assert "HTTP 400: refused" in gpqa and str(run) not in gpqa
    math_note = summary.missing_reason(name, summary.runs[0].benchmarks["math"], "math")
    assert math_note.endswith("job generate FAILED; its log names no error for math (logs/generate/main.log)")
    assert "- MISSING gpqa (/m): no metrics.json" in to_markdown(summary)
    assert (name, "gsm8k") not in summary.failures  # gsm8k has its results: the failed job is not its story
