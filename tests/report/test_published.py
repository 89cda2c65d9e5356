"""Published baselines end to end through summarize_results.py: the published number beside the run's where shots
and metric match, the settings shown (never a delta) where they do not, a verdict, and bad input as one line."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nemo_pipeline.campaign import load_models_file
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.layout import campaign_record_file
from nemo_pipeline.records import CampaignRecord, write_campaign_record
from nemo_pipeline.report import load_published, shipped_baselines_file

from .conftest import write_run

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "pipeline" / "summarize_results.py"

# Scores of our own checkpoints, as a user writes them: arc_challenge and winogrande match the runs' settings
# (25-shot acc_char = acc_norm; 5-shot accuracy), gsm8k was published 8-shot (the runs are 5-shot), hellaswag names
# no metric, mmlu is not in the runs.
USER_SCORES = {
    "models": {
        "ours-7B": [
            {"benchmark": "arc_challenge", "shots": 25, "metric": "acc_char", "value": 80.0,
             "source": "https://example.org/ours-7b", "date": "2026-01-05"},
            {"benchmark": "winogrande", "shots": 5, "metric": "accuracy", "value": 65.0,
             "source": "https://example.org/ours-7b", "date": "2026-01-05"},
            {"benchmark": "gsm8k", "shots": 8, "metric": "accuracy", "value": 50.0,
             "source": "https://example.org/ours-7b", "date": "2026-01-05"},
            {"benchmark": "hellaswag", "shots": 10, "metric": "", "value": 70.0,
             "source": "https://example.org/ours-7b", "date": "2026-01-05"},
            {"benchmark": "mmlu", "shots": 5, "metric": "accuracy", "value": 70.0,
             "source": "https://example.org/ours-7b", "date": "2026-01-05"},
        ],
        "ours-1B": [
            {"benchmark": "arc_challenge", "shots": 25, "metric": "acc_norm", "value": 50.0,
             "source": "https://example.org/ours-1b", "date": "2026-02-01"},
            {"benchmark": "winogrande", "shots": 5, "metric": "accuracy", "value": 55.5,
             "source": "https://example.org/ours-1b", "date": "2026-02-01"},
        ],
    }
}  # fmt: skip


def _run(root: Path, model: str) -> Path:
    """arc_challenge 20/30 (acc_norm 0.7 ± 0.085), winogrande 12/20, gsm8k 4/10, hellaswag 3/4."""
    write_run(root, "arc_challenge", {f"arc-{i}": [i % 3 != 0] for i in range(30)}, model=model)
    metrics_file = root / "eval-results" / "arc_challenge" / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    metrics["metrics"]["all"].update(acc=20 / 30, acc_stderr=0.0875, acc_norm=0.7, acc_norm_stderr=0.085)
    metrics_file.write_text(json.dumps(metrics))
    write_run(root, "winogrande", {f"wino-{i}": [i < 12] for i in range(20)})
    write_run(root, "gsm8k", {f"gsm-{i}": [i < 4] for i in range(10)})
    write_run(root, "hellaswag", {f"hs-{i}": [i < 3] for i in range(4)})
    return root


def _summarize(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), *map(str, args)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "our_scores.yaml"
    path.write_text(yaml.safe_dump(USER_SCORES))
    return path


@pytest.mark.timeout(180)
def test_published_column_delta_and_verdict(tmp_path: Path, user_file: Path) -> None:
    run = _run(tmp_path / "run", "ours-7b-rerun")
    result = _summarize(run, "--published", "ours-7B", "--published-file", user_file)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()

    def row(benchmark: str) -> list[str]:
        found = [line for line in lines if line.startswith("ours-7b-rerun / ours-7B") and f" {benchmark} " in line]
        assert len(found) == 1, result.stdout
        return found[0].split()

    # matched settings: the run's own metric of the published name, and the delta
    assert row("arc_challenge")[4:] == ["80.0", "25-shot,", "acc_char", "70.00", "±", "8.50", "-10.00", "compared"]
    assert row("winogrande")[4:] == ["65.0", "5-shot,", "accuracy", "60.00", "±", "11.24", "-5.00", "compared"]
    # other settings: both shown, no delta
    gsm = " ".join(row("gsm8k"))
    assert "published 8-shot; this run 5-shot shots differ" in gsm and "-10.00" not in gsm
    hellaswag = " ".join(row("hellaswag"))
    assert "published no metric named by the source; this run reports accuracy metric differs" in hellaswag
    assert "no results for this benchmark in the run not run" in " ".join(row("mmlu"))
    verdict = (
        "ours-7b-rerun against published ours-7B: above on 0 of 2 compared benchmark(s), below on 2; below on "
        "most: check the chat template"
    )
    assert any(line.startswith(verdict) for line in lines), result.stdout
    assert "published ours-7B: https://example.org/ours-7b (2026-01-05)" in lines

    summary = json.loads((run / "summary.json").read_text())
    (published,) = summary["published"]
    deltas = {b["benchmark"]: (b["status"], b["delta"]) for b in published["benchmarks"]}
    assert deltas["arc_challenge"][0] == "compared" and deltas["arc_challenge"][1] == pytest.approx(-10.0)
    assert deltas["winogrande"][0] == "compared" and deltas["winogrande"][1] == pytest.approx(-5.0)
    assert deltas["gsm8k"] == ("shots differ", None) and deltas["hellaswag"] == ("metric differs", None)
    assert deltas["mmlu"] == ("not run", None)
    with (run / "summary.csv").open() as handle:
        rows = {(r["benchmark"], r["subset"]): r for r in csv.DictReader(handle)}
    assert rows["winogrande", "all"]["published"] == "65.0"
    assert float(rows["winogrande", "all"]["published_delta"]) == pytest.approx(-5.0)
    assert rows["gsm8k", "all"]["published_status"] == "shots differ" and rows["gsm8k", "all"]["published_delta"] == ""
    html = (run / "report.html").read_text()
    assert '<h2 id="published">Against published scores</h2>' in html and "https://example.org/ours-7b" in html
    assert "## Against published scores" in (run / "summary.md").read_text()


@pytest.mark.timeout(180)
def test_shipped_baselines_are_compared_only_where_the_setting_matches(tmp_path: Path) -> None:
    run = _run(tmp_path / "run", "llama-3.1-8b")
    result = _summarize(run, "--published", "Llama-3.1-8B")
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines() if line.startswith("llama-3.1-8b / Llama-3.1-8B")]
    by_benchmark = {cells[3]: cells for cells in lines}
    # Meta's 25-shot acc_char ARC-Challenge is the run's 25-shot acc_norm; 5-shot acc_char Winogrande is not
    # what the run's winogrande reports (acc only: partial scoring has no length normalisation).
    arc = ["79.7", "25-shot,", "acc_char", "70.00", "±", "8.50", "-9.70", "compared"]
    assert by_benchmark["arc_challenge"][4:] == arc
    assert by_benchmark["winogrande"][-2:] == ["metric", "differs"]
    assert by_benchmark["mmlu"][-2:] == ["not", "run"]
    assert "llama-3.1-8b against published Llama-3.1-8B: above on 0 of 1 compared benchmark(s), below on 1;" in (
        result.stdout
    )


def test_shipped_file_records_a_source_for_every_value() -> None:
    shipped = load_published()
    values = {(m.name, s.benchmark): (s.shots, s.metric, s.value) for m in shipped.values() for s in m.scores}
    assert values == {
        ("Llama-3.1-8B", "mmlu"): (5, "macro_avg/acc_char", 66.7),
        ("Llama-3.1-8B", "arc_challenge"): (25, "acc_char", 79.7),
        ("Llama-3.1-8B", "winogrande"): (5, "acc_char", 60.5),
        ("Llama-3.1-70B", "mmlu"): (5, "macro_avg/acc_char", 79.3),
        ("Llama-3.1-70B", "arc_challenge"): (25, "acc_char", 92.9),
        ("Llama-3.1-70B", "winogrande"): (5, "acc_char", 83.3),
        ("Qwen2.5-7B", "mmlu"): (5, "", 74.2),
        ("Qwen2.5-7B", "hellaswag"): (10, "", 80.2),
        ("Qwen2.5-7B", "arc_challenge"): (25, "", 63.7),
        ("Qwen2.5-7B", "winogrande"): (5, "", 75.9),
        ("Qwen2.5-7B", "gsm8k"): (4, "", 85.4),
    }
    for model in shipped.values():
        assert model.file == shipped_baselines_file()
        for score in model.scores:
            assert score.source.startswith("https://") and len(score.date) == 10, score


@pytest.mark.timeout(120)
def test_bad_published_input_is_one_line_before_anything_is_written(tmp_path: Path, user_file: Path) -> None:
    run = _run(tmp_path / "run", "m")
    unknown = _summarize(run, "--published", "Llama-3.1-9B")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr == (
        "error: --published: no published scores for 'Llama-3.1-9B'. Did you mean 'Llama-3.1-8B'? "
        "Known: Llama-3.1-70B, Llama-3.1-8B, Qwen2.5-7B\n"
    )
    bad = tmp_path / "bad.yaml"
    broken = json.loads(json.dumps(USER_SCORES))
    broken["models"]["ours-7B"][1]["shots"] = "five"
    bad.write_text(yaml.safe_dump(broken))
    wrong = _summarize(run, "--published", "ours-7B", "--published-file", bad)
    assert wrong.returncode == 1
    assert wrong.stderr == f"error: {bad}: models.ours-7B[1]: key 'shots' must be int, got 'five'\n"
    assert not (run / "summary.json").exists()


@pytest.mark.timeout(180)
def test_campaign_entry_published_goes_through_the_models_file(tmp_path: Path, user_file: Path) -> None:
    models_file = tmp_path / "models.yaml"
    entries = [
        {"name": "base", "model": "/m/base", "baseline": True},
        {"name": "small", "model": "/m/small", "published": "ours-1B", "published_file": user_file.name},
    ]
    models_file.write_text(yaml.safe_dump(entries))
    loaded = load_models_file(models_file)
    assert loaded[1].published == "ours-1B" and loaded[1].published_file == str(user_file.resolve())
    out = tmp_path / "campaign"
    out.mkdir()
    campaign = CampaignRecord(tuple(e.campaign_model() for e in loaded), ("arc_challenge:0", "winogrande:0"))
    write_campaign_record(campaign_record_file(out), campaign)
    _run(out / "base", "base")
    _run(out / "small", "small")
    result = _summarize(out)
    assert result.returncode == 0, result.stderr
    assert "small against published ours-1B: above on 2 of 2 compared benchmark(s), below on 0\n" in result.stdout
    assert "base against published" not in result.stdout

    entries[1]["published"] = "ours-2B"
    models_file.write_text(yaml.safe_dump(entries))
    with pytest.raises(ConfigError, match=r"entry 2 \('small'\): key 'published': no published scores for 'ours-2B'"):
        load_models_file(models_file)
    del entries[1]["published"]
    models_file.write_text(yaml.safe_dump(entries))
    with pytest.raises(ConfigError, match="key 'published_file' needs 'published'"):
        load_models_file(models_file)
