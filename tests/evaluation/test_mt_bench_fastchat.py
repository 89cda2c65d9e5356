"""MT-Bench judged and scored exactly as FastChat's llm_judge does, checked against FastChat's own code (fschat
0.2.36 from its pinned wheel) on real judge outputs and real model answers (tests/fixtures/judges/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.datasets import BENCHMARKS, load_items
from nemo_pipeline.evaluation.judge_grader import parse_single_rating
from nemo_pipeline.evaluation.metrics import compute_metrics
from nemo_pipeline.evaluation.mt_bench_grader import (
    FASTCHAT_JUDGE,
    fastchat_judge_prompts,
    fastchat_rating,
    grade_mt_bench,
    render_mt_bench,
)
from tests.reference.wheels import FSCHAT, extract, run_driver

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "judges"
PROMPT_NAMES = {
    (False, 1): "single-v1",
    (True, 1): "single-math-v1",
    (False, 2): "single-v1-multi-turn",
    (True, 2): "single-math-v1-multi-turn",
}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def fastchat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extract(FSCHAT, ("fastchat/",), tmp_path_factory.mktemp("fschat"))


@pytest.fixture(scope="module")
def answered() -> list[dict[str, Any]]:
    """The 80 MT-Bench items with granite-7b-lab's real answers and the real judge outputs on them."""
    answers = {row["question_id"]: row["turns"] for row in _jsonl(FIXTURES / "mt_bench_answers.jsonl")}
    judgments = {(row["question_id"], row["turn"]): row for row in _jsonl(FIXTURES / "mt_bench_judgments.jsonl")}
    items = []
    for item in load_items("mt-bench"):
        qid = item["question_id"]
        items.append(
            {
                **item,
                "generations": answers[qid],
                "judge_generation": [judgments[(qid, 1)]["judgment"], judgments[(qid, 2)]["judgment"]],
                "fixture": [judgments[(qid, 1)], judgments[(qid, 2)]],
            }
        )
    return items


def _cases(items: list[dict[str, Any]], texts: list[list[str]]) -> list[dict[str, Any]]:
    """FastChat's run_judge_single inputs for both turns of every item, answered by the scripted `texts`."""
    cases = []
    for item, outputs in zip(items, texts, strict=True):
        reference = item["reference_answer"] if item["needs_reference"] else None
        for turn in (1, 2):
            cases.append(
                {
                    "question": item["turns"],
                    "answer": item["generations"],
                    "reference": reference,
                    "multi_turn": turn == 2,
                    "prompt": PROMPT_NAMES[(reference is not None, turn)],
                    "judgment": outputs[turn - 1],
                }
            )
    return cases


@pytest.fixture(scope="module")
def fastchat_on_real_outputs(fastchat: Path, answered: list[dict[str, Any]], tmp_path_factory) -> list[dict]:
    spec = {
        "judge_prompts": list(fastchat_judge_prompts().values()),
        "cases": _cases(answered, [item["judge_generation"] for item in answered]),
    }
    return list(run_driver("fastchat_mt_bench.py", fastchat, spec, tmp_path_factory.mktemp("run"))["cases"])


@pytest.mark.timeout(600)
def test_judge_requests_equal_fastchats_for_every_question(answered, fastchat_on_real_outputs) -> None:
    """Our two judge chats per item are the messages FastChat's run_judge_single sends, with its sampling."""
    theirs = iter(fastchat_on_real_outputs)
    categories = set()
    for item in answered:
        ours = render_mt_bench(item)
        for turn in (0, 1):
            reference = next(theirs)
            assert ours[turn] == reference["messages"], (item["id"], turn + 1)
            assert item["fixture"][turn]["prompt"] == PROMPT_NAMES[(bool(item["needs_reference"]), turn + 1)]
            assert (FASTCHAT_JUDGE.max_tokens, FASTCHAT_JUDGE.temperature) == (
                reference["max_tokens"], reference["temperature"]
            )  # fmt: skip
        categories.add(item["subset"])
    assert len(answered) == 80 and len(categories) == 8
    assert any(item["needs_reference"] for item in answered)


@pytest.mark.timeout(600)
def test_rating_parse_agrees_with_fastchat_on_160_real_judge_outputs(answered, fastchat_on_real_outputs) -> None:
    theirs = [case["rating"] for case in fastchat_on_real_outputs]
    texts = [text for item in answered for text in item["judge_generation"]]
    ours = [fastchat_rating(text) for text in texts]
    assert [-1 if r is None else r for r in ours] == theirs
    # The recorded scores of the original FastChat run agree too, and the outputs exercise both outcomes.
    assert theirs == [row["fastchat_score"] for item in answered for row in item["fixture"]]
    assert theirs.count(-1) > 0 and len(set(theirs)) > 3
    # The project's lenient parser (the `project-judge` protocol) does not agree with FastChat on these.
    lenient = [parse_single_rating(text) for text in texts]
    assert sum(a == (None if b == -1 else b) for a, b in zip(lenient, theirs, strict=True)) < len(theirs)


SCRIPTED = [
    ("Good answer. Rating: [[8]]", "Weak follow-up. Rating: [[3]]"),
    ("Rating: [[9.5]] then later [[2]]", "No rating at all."),
    ("Only the backup form [7] here", "[[10]]"),
    ("Nothing.", "Still nothing."),
    ("Score [[4]]", "The rating is [6] and [[5]]"),
]


@pytest.mark.timeout(600)
def test_scores_equal_fastchats_show_result(fastchat: Path, answered, fastchat_on_real_outputs, tmp_path) -> None:
    """Turn 1, turn 2 and the average from FastChat's show_result.py over FastChat's own ratings equal our
    metrics, for the real outputs (most unrated) and for scripted judges."""
    scripted_items = [
        {**item, "judge_generation": list(texts)} for item, texts in zip(answered, SCRIPTED * 2, strict=False)
    ]
    scripted = run_driver(
        "fastchat_mt_bench.py",
        fastchat,
        {
            "judge_prompts": list(fastchat_judge_prompts().values()),
            "cases": _cases(scripted_items, [item["judge_generation"] for item in scripted_items]),
        },
        tmp_path / "scripted",
    )["cases"]
    rows = []
    for model, items, cases in (("real", answered, fastchat_on_real_outputs), ("scripted", scripted_items, scripted)):
        for item, pair in zip(items, zip(cases[::2], cases[1::2], strict=True), strict=True):
            for turn, case in enumerate(pair, start=1):
                rows.append({"question_id": item["question_id"], "model": model, "score": case["rating"], "turn": turn})
    judgment_file = tmp_path / "gpt-4_single.jsonl"
    judgment_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    shown = run_driver(
        "fastchat_mt_bench.py",
        fastchat,
        {"judge_prompts": [], "cases": [], "show_result": str(judgment_file)},
        tmp_path / "show",
    )["show_result"]
    for model, items in (("real", answered), ("scripted", scripted_items)):
        graded = []
        for item in items:
            verdict = grade_mt_bench(item)
            graded.append({"id": item["id"], "is_correct": verdict.correct, "predicted_answer": verdict.predicted,
                           "scores": verdict.scores, "subset": item["subset"]})  # fmt: skip
        block = compute_metrics({None: graded})["metrics"]["all"]
        assert block["mt_bench_turn1"] == pytest.approx(shown[model]["turn1"], abs=1e-12), model
        assert block["mt_bench_turn2"] == pytest.approx(shown[model]["turn2"], abs=1e-12), model
        assert block["mt_bench_score"] == pytest.approx(shown[model]["average"], abs=1e-12), model


def test_official_protocol_is_the_default_and_the_project_prompts_a_variant() -> None:
    bench = BENCHMARKS.get("mt-bench")
    assert bench.grader == "mt-bench" and bench.reference is not None
    variant = bench.variant("project-judge")
    assert variant is not None and variant.grader == "judge"
