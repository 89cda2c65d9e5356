"""Log-likelihood scoring against a scripted server with known prompt log-probabilities: the reported acc, acc_norm,
mc2 and their standard errors equal values computed by hand, through the generate, evaluate and metrics stages."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.config import EvaluateConfig, GenerateConfig, MetricsConfig, compose_config
from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.evaluation.stages import run_compute_metrics, run_evaluate
from nemo_pipeline.inference import run_generate
from nemo_pipeline.jsonl import read_jsonl, write_jsonl_atomic
from nemo_pipeline.layout import client_stats_file
from nemo_pipeline.loglik import LoglikFields, loglik_record, requests_of
from nemo_pipeline.records import read_client_report
from tests.loglik.scripted_logprobs import LogprobScript, LogprobServer

# Token log-probabilities (whitespace-led words). Hand-computed truth:
#   A: " yes" -1.0 vs " no way" -1.2        -> acc picks "yes" (wrong); per char -1.0/3 < -1.2/6 -> acc_norm right
#   B: " red" -0.5 vs " blue" -2.0          -> both right
#   C: " up" -3.0 vs " down" -1.0 (gold up) -> both wrong
# acc = 1/3, acc_norm = 2/3, each with stderr stdev([0,1,0]) / sqrt(3) = sqrt(1/3) / sqrt(3) = 1/3.
TABLE = {" yes": -1.0, " no": -0.6, " way": -0.6, " red": -0.5, " blue": -2.0, " up": -3.0, " down": -1.0}
MC_ITEMS = [
    ("a", "Q: agree?\nA:", ("yes", "no way"), 1),
    ("b", "Q: colour?\nA:", ("red", "blue"), 0),
    ("c", "Q: direction?\nA:", ("up", "down"), 0),
]


def _mc_file(path: Path) -> Path:
    records = [loglik_record(i, ctx, LoglikFields(choices=ch, gold=g)) for i, ctx, ch, g in MC_ITEMS]
    write_jsonl_atomic(path, records)
    return path


def _generate_cfg(url: str, data: Path, out: Path, server_type: str = "openai") -> GenerateConfig:
    return compose_config(
        GenerateConfig,
        "generate",
        [
            f"++input_file={data}",
            f"++output_file={out}",
            f"++server.server_type={server_type}",
            f"++server.address='{url}'",
            "++prompt_config=loglik/lm-eval",
            "++inference.temperature=0.0",
            "++inference.tokens_to_generate=1",
            "++max_retries=0",
            "++progress=false",
        ],
    )


def _stages(url: str, data: Path, out: Path) -> dict[str, Any]:
    run_generate(_generate_cfg(url, data, out))
    run_evaluate(compose_config(EvaluateConfig, "evaluate", [f"++input_files=[{out}]", "++grader=loglik"]))
    return run_compute_metrics(compose_config(MetricsConfig, "compute_metrics", [f"++benchmark_dir={out.parent}"]))


@pytest.mark.timeout(120)
def test_acc_and_acc_norm_equal_the_hand_computed_truth(tmp_path: Path) -> None:
    script = LogprobScript(table=TABLE)
    out = tmp_path / "bench" / "output.jsonl"
    with LogprobServer(script) as server:
        metrics = _stages(server.url, _mc_file(tmp_path / "data.jsonl"), out)
    block = metrics["metrics"]["all"]
    assert block["acc"] == pytest.approx(1 / 3)
    assert block["acc_norm"] == pytest.approx(2 / 3)
    assert block["acc_stderr"] == pytest.approx(1 / 3)
    assert block["acc_norm_stderr"] == pytest.approx(1 / 3)
    assert block["accuracy"] == pytest.approx(100 / 3)
    records = {r["id"]: r for r in read_jsonl(out)}
    assert records["a"]["loglikelihoods"] == pytest.approx([-1.0, -1.2])
    assert [records[i]["is_correct"] for i in "abc"] == [False, True, False]  # per-item verdicts: paired tests
    assert records["a"]["scores"] == {"acc": 0.0, "acc_norm": 1.0}
    assert records["a"]["predicted_answer"] == "A"
    # each choice echoes context + continuation and asks for one token with its logprobs; each context is sent once
    # alone, without echo, for its token count
    echoed = [r for r in script.requests if r.get("echo")]
    assert {r["prompt"] for r in echoed} == {f"{ctx} {c}" for _, ctx, choices, _ in MC_ITEMS for c in choices}
    assert all(r["logprobs"] >= 1 and r["max_tokens"] == 1 for r in echoed)
    counted = sorted(r["prompt"] for r in script.requests if not r.get("echo"))
    assert counted == sorted(ctx for _, ctx, _, _ in MC_ITEMS)


@pytest.mark.timeout(120)
def test_mc2_reports_the_normalized_true_mass(tmp_path: Path) -> None:
    # P(a)=0.2, P(b)=0.5, P(c)=0.3 (one token each); labels 1,0,1 -> mass 0.5, not above one half -> not correct.
    table = {" a": math.log(0.2), " b": math.log(0.5), " c": math.log(0.3)}
    fields = LoglikFields(choices=("a", "b", "c"), labels=(1, 0, 1), metric="mc2", acc_norm=False)
    data = tmp_path / "data.jsonl"
    write_jsonl_atomic(data, [loglik_record("q", "Q: pick\nA:", fields)])
    with LogprobServer(LogprobScript(table=table)) as server:
        metrics = _stages(server.url, data, tmp_path / "bench" / "output.jsonl")
    block = metrics["metrics"]["all"]
    assert block["acc"] == pytest.approx(0.5)
    assert "acc_norm" not in block
    assert block["accuracy"] == 0.0


@pytest.mark.timeout(60)
def test_a_rerun_scores_only_missing_items(tmp_path: Path) -> None:
    script = LogprobScript(table=TABLE)
    data, out = _mc_file(tmp_path / "data.jsonl"), tmp_path / "bench" / "output.jsonl"
    with LogprobServer(script) as server:
        run_generate(_generate_cfg(server.url, data, out))
        first = sum(bool(r.get("echo")) for r in script.requests)
        lines = out.read_text().splitlines()
        out.write_text("\n".join(lines[:2]) + "\n")  # as if killed after two items
        run_generate(_generate_cfg(server.url, data, out))
    assert first == 6 and sum(bool(r.get("echo")) for r in script.requests) == 8  # the third item's choices only
    assert len(read_jsonl(out)) == 3


@pytest.mark.timeout(60)
def test_a_server_type_that_cannot_score_fails_naming_one_that_can(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        run_generate(
            _generate_cfg("http://127.0.0.1:9/v1", _mc_file(tmp_path / "d.jsonl"), tmp_path / "o.jsonl", "llamacpp")
        )
    message = str(raised.value)
    assert "'llamacpp'" in message and "llamacpp-python" in message and "\n" not in message


@pytest.mark.timeout(60)
def test_a_server_that_refuses_echo_is_a_clear_error(tmp_path: Path) -> None:
    with LogprobServer(LogprobScript(refuse_echo=True)) as server, pytest.raises(Exception) as raised:
        run_generate(_generate_cfg(server.url, _mc_file(tmp_path / "d.jsonl"), tmp_path / "o.jsonl"))
    assert "Only no echo is supported" in str(raised.value)


@pytest.mark.timeout(60)
def test_an_echo_that_cannot_be_aligned_fails_naming_the_item(tmp_path: Path) -> None:
    out = tmp_path / "bench" / "output.jsonl"
    script = LogprobScript(table=TABLE, uncounted_prefix=("<x>", "<y>"))
    with LogprobServer(script) as server, pytest.raises(DataError) as raised:
        run_generate(_generate_cfg(server.url, _mc_file(tmp_path / "data.jsonl"), out))
    message = str(raised.value)
    assert "cannot align" in message and "\n" not in message
    assert any(f"item '{item_id}'" in message for item_id, *_ in MC_ITEMS)
    assert not out.exists() or not out.read_text().strip()  # no number was reported


def test_winogrande_style_items_vary_the_context() -> None:
    fields = LoglikFields(choices=("the cat", "the dog"), gold=0, acc_norm=False,
                          context_choices=("The cat", "The dog"), continuation="ran away.")  # fmt: skip
    requests = requests_of(loglik_record("w", "Shot one.\n\n", fields))
    assert [(r.context, r.continuation) for r in requests] == [
        ("Shot one.\n\nThe cat", " ran away."),
        ("Shot one.\n\nThe dog", " ran away."),
    ]


@pytest.mark.parametrize(
    ("loglik", "message"),
    [
        ({"choices": []}, "no choices"),
        ({"choices": ["a", "b"], "gold": 2}, "gold index 2"),
        ({"choices": ["a"], "metric": "mc3"}, "not one of"),
        ({"choices": ["a", "b"], "metric": "mc2", "labels": [0, 0]}, "mc2 needs"),
        ({"gold": 0}, "malformed"),
    ],
)
def test_malformed_items_name_the_item(tmp_path: Path, loglik: dict[str, Any], message: str) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"id": "bad-1", "problem": "x", "expected_answer": "a", "loglik": loglik}) + "\n")
    with pytest.raises(DataError, match=message) as raised:
        run_generate(_generate_cfg("http://127.0.0.1:9/v1", data, tmp_path / "o.jsonl"))
    assert "bad-1" in str(raised.value)


@pytest.mark.timeout(300)
def test_mmlu_ll_runs_through_eval_on_a_scoring_server(tmp_path: Path, repo: Path, env_with_repo) -> None:
    """The job graph carries a log-likelihood benchmark like any other, here beside a generative one in the same
    server job: generate scores it, evaluate grades it with `loglik`, metrics and the summary show acc per subject.
    Every choice gets the same log-likelihood here, so the first (A) wins: acc is the share of items whose answer
    is A."""
    import subprocess
    import sys

    script = LogprobScript()
    out = tmp_path / "out"
    with LogprobServer(script) as server:
        argv = [
            sys.executable, str(repo / "pipeline" / "eval.py"), "--benchmarks", "mmlu-ll:0,gsm8k:0",
            "--server_type", "openai",
            "--server_address", server.url, "--output_dir", str(out), "++max_samples=6",
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=240, env=env_with_repo, cwd=repo)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sum(bool(r.get("echo")) for r in script.requests) == 6 * 4  # gsm8k's 6 are generated, not echoed
    assert len(read_jsonl(out / "eval-results" / "gsm8k" / "output.jsonl")) == 6
    records = read_jsonl(out / "eval-results" / "mmlu-ll" / "output.jsonl")
    truth = sum(r["loglik"]["gold"] == 0 for r in records) / len(records)
    block = json.loads((out / "eval-results" / "mmlu-ll" / "metrics.json").read_text())["metrics"]["all"]
    assert block["acc"] == pytest.approx(truth) and block["num_entries"] == 6
    assert "acc_stderr" in block and "acc_norm" not in block  # MMLU reports acc only, as lm-eval does
    assert "acc" in json.dumps(json.loads((out / "summary.json").read_text()))


@pytest.mark.timeout(60)
def test_scoring_writes_its_client_record_as_generation_does(tmp_path: Path) -> None:
    data, out = _mc_file(tmp_path / "data.jsonl"), tmp_path / "bench" / "output.jsonl"
    script = LogprobScript(table=TABLE)
    with LogprobServer(script) as server:
        run_generate(_generate_cfg(server.url, data, out))
    report = read_client_report(client_stats_file(out))
    assert (report.output_file, report.items, report.items_written, report.items_failed) == (str(out), 3, 3, 0)
    # 3 context counts and 6 choice scores, plus the client's first GET of /models
    assert len(script.requests) == 9 and report.requests == 10
    assert report.retried == 0 and report.failed_ids == []


@pytest.mark.timeout(60)
def test_a_failed_item_is_named_in_the_client_record(tmp_path: Path) -> None:
    out = tmp_path / "bench" / "output.jsonl"
    script = LogprobScript(table=TABLE, uncounted_prefix=("<x>", "<y>"))
    with LogprobServer(script) as server, pytest.raises(DataError):
        run_generate(_generate_cfg(server.url, _mc_file(tmp_path / "data.jsonl"), out))
    report = read_client_report(client_stats_file(out))
    assert report.items == 3 and report.items_written == 0
    assert report.items_failed >= 1 and set(report.failed_ids) <= {item[0] for item in MC_ITEMS}
