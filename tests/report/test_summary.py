"""Summaries of real output directories: tables, files, missing benchmarks, baselines, and the CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from nemo_pipeline.errors import DataError
from nemo_pipeline.records import RunRecord, write_run_record
from nemo_pipeline.report import SummaryOptions, build_summary, mcnemar_exact, to_csv, to_markdown, to_text

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "pipeline" / "summarize_results.py"

MakeRun = Callable[..., Path]


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def _greedy(n: int, correct: set[int], prefix: str = "q") -> dict[str, list[bool | None]]:
    return {f"{prefix}-{i}": [i in correct] for i in range(n)}


@pytest.mark.timeout(60)
def test_single_run_prints_table_and_writes_four_files(tmp_path: Path, make_run: MakeRun) -> None:
    run = tmp_path / "run"
    make_run(run, "gsm8k", _greedy(8, {0, 1, 2, 3, 4, 6}), subsets={f"q-{i}": "ab"[i % 2] for i in range(8)})
    make_run(run, "aime25", {f"a-{i}": [i % 2 == 0, True, False, None] for i in range(4)}, num_seeds=4)
    result = _cli(run, "--title", "Smoke")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Smoke" in out and "gsm8k" in out and "aime25" in out
    assert "75.00" in out  # gsm8k accuracy 6/8
    assert "37.50 ± " in out  # aime25 pass@1: seeds 50, 100, 0, 0 -> 37.5
    for name in ("summary.json", "summary.md", "summary.csv", "report.html"):
        assert (run / name).stat().st_size > 100, name
    data = json.loads((run / "summary.json").read_text())
    gsm = data["runs"][0]["benchmarks"]["gsm8k"]
    assert gsm["status"] == "ok" and gsm["metrics"]["all"]["accuracy"] == 75.0
    assert gsm["metrics"]["a"]["accuracy"] == 100.0 and gsm["metrics"]["b"]["accuracy"] == 50.0
    assert data["missing"] == [] and data["comparisons"] == []
    rows = list(csv.DictReader(io.StringIO((run / "summary.csv").read_text())))
    assert [(r["benchmark"], r["subset"]) for r in rows] == [
        ("aime25", "all"),
        ("gsm8k", "all"),
        ("gsm8k", "a"),
        ("gsm8k", "b"),
    ]
    assert float(rows[0]["pass@1"]) == pytest.approx(37.5) and rows[0]["pass@4"] != ""


@pytest.mark.timeout(60)
def test_missing_and_broken_benchmarks_are_reported_not_fatal(tmp_path: Path, make_run: MakeRun) -> None:
    run = tmp_path / "run"
    make_run(run, "gsm8k", _greedy(4, {0}))
    make_run(run, "ifeval", _greedy(5, {0, 1}), write_metrics=False)  # graded, metrics job failed
    (run / "eval-results" / "mmlu").mkdir()  # generation never wrote anything
    make_run(run, "math", _greedy(3, {0}))
    (run / "eval-results" / "math" / "metrics.json").write_text('{"benchmark": "math", "metrics": ')
    summary = build_summary([run])
    missing = {name: (bench.problem if bench else "") for _, bench, name in summary.missing()}
    assert set(missing) == {"ifeval", "mmlu", "math"}
    assert "no metrics.json (1 output file(s), 5 line(s)" in missing["ifeval"]
    assert "no output files" in missing["mmlu"]
    assert "unreadable metrics.json" in missing["math"] and "not valid JSON" in missing["math"]
    text = to_text(summary)
    assert "MISSING ifeval" in text and "MISSING mmlu" in text and "25.00" in text
    result = _cli(run)
    assert result.returncode == 0, result.stderr
    data = json.loads((run / "summary.json").read_text())
    assert {m["benchmark"] for m in data["missing"]} == {"ifeval", "mmlu", "math"}


@pytest.mark.timeout(60)
def test_torn_and_ungraded_lines_become_warnings(tmp_path: Path, make_run: MakeRun) -> None:
    run = make_run(tmp_path / "run", "gsm8k", _greedy(4, {0, 1}))
    output = run / "eval-results" / "gsm8k" / "output.jsonl"
    with output.open("a") as handle:
        handle.write(json.dumps({"id": "q-9", "problem": "p", "generation": "g"}) + "\n")  # not graded yet
        handle.write('{"id": "q-10", "probl')  # killed mid-write
    summary = build_summary([run])
    assert any("skipped 1 unreadable line(s) (first at line 6)" in w for w in summary.warnings)
    assert any("1 of 5 output line(s) are not graded" in w for w in summary.warnings)
    items = summary.items[(summary.runs[0].name, "gsm8k")]
    assert sorted(items.outcomes["all"]) == ["q-0", "q-1", "q-2", "q-3"]


@pytest.mark.timeout(60)
def test_several_runs_side_by_side_named_by_run_json(tmp_path: Path, make_run: MakeRun) -> None:
    a = make_run(tmp_path / "a", "gsm8k", _greedy(10, {0, 1, 2}), model="gemma-270m")
    b = make_run(tmp_path / "b", "gsm8k", _greedy(10, {0, 1, 2, 3, 4, 5, 6}))
    make_run(b, "mmlu", _greedy(4, {0, 1}))
    out_dir = tmp_path / "reports"
    result = _cli(a, b, "--output", out_dir)
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if line.startswith("benchmark"))
    assert "gemma-270m" in header and " b" in header
    gsm_line = next(line for line in result.stdout.splitlines() if line.startswith("gsm8k"))
    assert "30.00" in gsm_line and "70.00" in gsm_line
    mmlu_line = next(line for line in result.stdout.splitlines() if line.startswith("mmlu"))
    assert "MISSING" in mmlu_line and "50.00" in mmlu_line
    assert "MISSING mmlu (gemma-270m): no folder for this benchmark" in result.stdout
    assert (out_dir / "report.html").is_file() and not (a / "summary.json").exists()
    data = json.loads((out_dir / "summary.json").read_text())
    assert [r["name"] for r in data["runs"]] == ["gemma-270m", "b"]


@pytest.mark.timeout(60)
def test_a_campaign_models_own_run_is_named_by_its_entry_not_its_model_path(tmp_path: Path, make_run: MakeRun) -> None:
    """The name the campaign's tables give it (run.json's `name`), so the two summaries agree."""
    run = make_run(tmp_path / "small", "gsm8k", _greedy(4, {0}))
    write_run_record(
        run / "run.json", RunRecord(name="small", model="/models/gemma-3-270m.gguf", benchmarks=("gsm8k",))
    )
    assert [r.name for r in build_summary([run]).runs] == ["small"]
    write_run_record(run / "run.json", RunRecord(model="/models/gemma-3-270m.gguf", benchmarks=("gsm8k",)))
    assert [r.name for r in build_summary([run]).runs] == ["/models/gemma-3-270m.gguf"]  # a single run: its model


@pytest.mark.timeout(60)
def test_baseline_deltas_use_mcnemar_on_items_matched_by_id(tmp_path: Path, make_run: MakeRun) -> None:
    # 20 items: both right on q-0..q-4; baseline alone right on q-5; model alone right on q-6..q-14.
    base = make_run(tmp_path / "base", "gsm8k", _greedy(20, set(range(6))), model="small")
    model_correct = set(range(5)) | set(range(6, 15))
    model = make_run(tmp_path / "model", "gsm8k", _greedy(20, model_correct), model="big")
    summary = build_summary([model], baseline=base)
    assert summary.baseline == "small" and [r.name for r in summary.runs] == ["small", "big"]
    (comp,) = summary.comparisons
    assert comp.delta == pytest.approx(70.0 - 30.0)
    assert comp.test is not None and comp.test.test == "mcnemar-exact"
    assert (comp.test.only_baseline, comp.test.only_model) == (1, 9)
    assert comp.test.p_value == pytest.approx(22 / 1024) == mcnemar_exact(1, 9)
    assert comp.test.significant
    text = to_text(summary)
    assert "+40.00 (p=0.0215) *" in text
    markdown = to_markdown(summary)
    assert "| small (baseline) | big | Δ big |" in markdown and "+40.00 (p=0.0215) *" in markdown
    rows = list(csv.DictReader(io.StringIO(to_csv(summary))))
    big = next(r for r in rows if r["model"] == "big")
    assert big["test"] == "mcnemar-exact" and big["significant"] == "True" and float(big["delta"]) == 40.0
    result = _cli(model, "--baseline", base, "--html", tmp_path / "share" / "gemma.html")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "share" / "gemma.html").is_file() and not (model / "report.html").exists()
    data = json.loads((model / "summary.json").read_text())
    paired = data["comparisons"][0]["paired"]
    assert paired["only_baseline_correct"] == 1 and paired["only_model_correct"] == 9
    assert paired["p_value"] == pytest.approx(0.021484375)


@pytest.mark.timeout(60)
def test_baseline_with_seeds_uses_bootstrap_per_subset(tmp_path: Path, make_run: MakeRun) -> None:
    ids = [f"q-{i}" for i in range(12)]
    subsets = {i: ("easy" if n < 6 else "hard") for n, i in enumerate(ids)}
    base = make_run(
        tmp_path / "base",
        "math",
        {i: [False, False, n % 2 == 0] for n, i in enumerate(ids)},
        num_seeds=3,
        subsets=subsets,
    )
    model = make_run(
        tmp_path / "new", "math", {i: [True, True, n < 6] for n, i in enumerate(ids)}, num_seeds=3, subsets=subsets
    )
    summary = build_summary([model], baseline=base, options=SummaryOptions(resamples=500))
    by_subset = {c.subset: c for c in summary.comparisons}
    assert set(by_subset) == {"all", "easy", "hard"}
    for comp in by_subset.values():
        assert comp.test is not None and comp.test.test == "paired-bootstrap" and comp.test.ci95 is not None
    assert by_subset["easy"].test.num_paired == 6  # type: ignore[union-attr]
    assert by_subset["all"].delta == pytest.approx(100 * 30 / 36 - 100 * 6 / 36)
    assert by_subset["all"].test.significant  # type: ignore[union-attr]


@pytest.mark.timeout(60)
def test_cli_errors_are_one_line_and_exit_non_zero(tmp_path: Path) -> None:
    result = _cli(tmp_path / "nope")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "empty").mkdir()
    result = _cli(tmp_path / "empty")
    assert result.returncode == 1 and "no eval-results/ folder" in result.stderr
    with pytest.raises(DataError, match="holds no benchmark folders"):
        (tmp_path / "empty" / "eval-results").mkdir()
        build_summary([tmp_path / "empty"])


@pytest.mark.timeout(60)
def test_terminal_table_folds_many_subsets_but_files_keep_them(tmp_path: Path, make_run: MakeRun) -> None:
    ids = [f"q-{i}" for i in range(40)]
    run = make_run(
        tmp_path / "run",
        "mmlu",
        _greedy(40, set(range(20))),
        subsets={i: f"subject_{n % 20}" for n, i in enumerate(ids)},
    )
    summary = build_summary([run])
    text = to_text(summary)
    assert "subject_3" not in text and "mmlu: 20 subsets, listed in summary.md and report.html" in text
    markdown = to_markdown(summary)
    assert markdown.index("subject_2 ") < markdown.index("subject_10 ")  # natural order
    assert markdown.count("| subject_") == 20
