"""Our IFEval grader against IFEval's reference scorer: the same verdicts on real model responses.

The reference (Google's `instruction_following_eval`) is not on PyPI and CI cannot fetch it, so its verdicts were
made once by tests/fixtures/ifeval/regenerate.py, running that code at the pinned commit on GPT-4's 541 responses
from the official release, and are kept in tests/fixtures/ifeval/reference_verdicts.jsonl (README there).
lm-evaluation-harness 0.4.13's port of the same code runs live. The deliberate differences (docs/GRADING.md) are
where the reference draws a random letter; the fixture marks those verdicts null.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.datasets import BENCHMARKS
from nemo_pipeline.evaluation.graders import GRADERS, GraderContext
from nemo_pipeline.evaluation.ifeval import INSTRUCTION_CHECKS, follows_loose, follows_strict, loose_variants
from nemo_pipeline.evaluation.ifeval_grader import ifeval_aggregate
from tests.conftest import DEV_INSTALL, require

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ifeval"
GPT4 = "gpt4_20231107_145030"


def _records() -> list[dict[str, Any]]:
    lines = (FIXTURES / "reference_verdicts.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


RECORDS = _records()


def _random_letter(instruction_id: str, kwargs: dict[str, Any]) -> bool:
    """Where the reference replaces `letter` by a random one: anything but one ASCII letter."""
    letter = kwargs.get("letter")
    return instruction_id == "keywords:letter_frequency" and not (
        isinstance(letter, str) and len(letter) == 1 and letter.isascii() and letter.isalpha()
    )


def _instructions() -> Iterator[tuple[dict[str, Any], int, str, dict[str, Any]]]:
    for record in RECORDS:
        for index, (instruction_id, kwargs) in enumerate(
            zip(record["instruction_id_list"], record["kwargs"], strict=True)
        ):
            yield record, index, instruction_id, kwargs


def _where(record: dict[str, Any], instruction_id: str) -> str:
    return f"{record['source']} key {record['key']} {instruction_id}"


@pytest.mark.timeout(60)
def test_fixture_is_the_pinned_reference_on_the_whole_official_release() -> None:
    meta = json.loads((FIXTURES / "reference.json").read_text())
    reference = BENCHMARKS.get("ifeval").reference
    assert reference is not None
    assert meta["commit"] == reference.commit and meta["repository"] in reference.repository
    assert (FIXTURES / "LICENSE").read_text().startswith("\n                                 Apache License")
    gpt4 = [r for r in RECORDS if r["source"] == GPT4]
    assert len(gpt4) == 541 == len({r["key"] for r in gpt4})
    assert len(RECORDS) == meta["records"]
    # Nulls only where the reference draws a random letter (a verdict is kept where every letter agrees), and
    # every instruction id is covered.
    for record, index, instruction_id, kwargs in _instructions():
        random = _random_letter(instruction_id, kwargs)
        assert (record["variants"][index] is None) == random, _where(record, instruction_id)
        for field in ("strict", "loose"):
            assert record[field][index] is not None or random, (_where(record, instruction_id), field)
    assert {i for _, _, i, _ in _instructions()} == set(INSTRUCTION_CHECKS)


@pytest.mark.timeout(120)
def test_same_verdict_as_the_reference_per_instruction_strict_loose_and_each_loose_variant() -> None:
    mismatches = []
    for record, index, instruction_id, kwargs in _instructions():
        response = record["response"]
        ours = {
            "strict": follows_strict(instruction_id, response, kwargs),
            "loose": follows_loose(instruction_id, response, kwargs),
        }
        for field, verdict in ours.items():
            official = record[field][index]
            if official is not None and verdict != official:
                mismatches.append(f"{_where(record, instruction_id)} {field}: ours {verdict}, reference {official}")
        official_variants = record["variants"][index]
        if official_variants is not None:
            check = INSTRUCTION_CHECKS[instruction_id]
            given = {k: v for k, v in kwargs.items() if v is not None}
            ours_variants = [bool(v.strip()) and check(v, **given) for v in loose_variants(response)]
            if ours_variants != official_variants:
                mismatches.append(
                    f"{_where(record, instruction_id)} loose variants: ours {ours_variants}, "
                    f"reference {official_variants}"
                )
    assert not mismatches, f"{len(mismatches)} verdicts differ:\n" + "\n".join(mismatches[:20])


@pytest.mark.timeout(120)
def test_same_prompt_verdicts_and_accuracies_through_the_registered_grader() -> None:
    grader = GRADERS.get("ifeval")
    verdicts = []
    mismatches = []
    for record in RECORDS:
        item = {
            "id": f"ifeval-{record['key']}",
            "generation": record["response"],
            "instruction_id_list": record["instruction_id_list"],
            "kwargs": record["kwargs"],
        }
        verdict = grader(item, GraderContext())
        verdicts.append(verdict)
        assert verdict.scores is not None
        for level in ("prompt_strict", "prompt_loose"):
            official = record[level]
            if official is not None and verdict.scores[level] != float(official):
                mismatches.append(f"{record['source']} key {record['key']} {level}: ours {verdict.scores[level]}")
    assert not mismatches, "\n".join(mismatches)

    # The four accuracies on GPT-4's responses: ours equal the reference's wherever its verdict is not random.
    gpt4 = [(r, v) for r, v in zip(RECORDS, verdicts, strict=True) if r["source"] == GPT4]
    ours = ifeval_aggregate([v for _, v in gpt4])
    for level, prompts in (("strict", "prompt_strict_accuracy"), ("loose", "prompt_loose_accuracy")):
        settled = [(r, v) for r, v in gpt4 if r[f"prompt_{level}"] is not None]
        assert len(gpt4) - len(settled) <= 2  # the two items with a random letter
        official_followed = sum(r[f"prompt_{level}"] for r, _ in settled)
        ours_followed = sum(v.scores[f"prompt_{level}"] for r, v in settled if v.scores is not None)
        assert ours_followed == official_followed
        low, high = official_followed, official_followed + len(gpt4) - len(settled)
        assert 100 * low / 541 <= ours[prompts] <= 100 * high / 541
    assert ours["num_prompts"] == 541 and ours["num_instructions"] == 834


@pytest.fixture(scope="module")
def lm_eval_ifeval() -> Iterator[Any]:
    """lm-evaluation-harness 0.4.13's IFEval port (its `utils`), with NLTK's Punkt model from our pinned wheel and
    langdetect seeded as ours is (lm-eval would download punkt_tab at import, and leaves langdetect unseeded)."""
    try:
        import nltk
        from langdetect import DetectorFactory
    except ImportError as exc:
        require("nltk and langdetect", False, f"{DEV_INSTALL} ({exc})")
        raise
    from nemo_pipeline.evaluation.ifeval import LANGDETECT_SEED, nltk_data_dir

    data = str(nltk_data_dir())
    if data not in nltk.data.path:
        nltk.data.path.insert(0, data)
    old_seed = DetectorFactory.seed
    DetectorFactory.seed = LANGDETECT_SEED
    try:
        module = importlib.import_module("lm_eval.tasks.ifeval.utils")
    except ImportError as exc:
        require("lm-eval 0.4.13 with its ifeval extras", False, f"{DEV_INSTALL} ({exc})")
        raise
    yield module
    DetectorFactory.seed = old_seed
    nltk.data.path.remove(data)


@pytest.mark.timeout(300)
def test_same_verdicts_as_lm_eval_0_4_13(lm_eval_ifeval: Any) -> None:
    mismatches = []
    compared = 0
    for record in RECORDS:
        doc = {
            "key": record["key"],
            "instruction_id_list": record["instruction_id_list"],
            "prompt": "",  # read only by instructions that take the prompt: none in IFEval's registry
            "kwargs": record["kwargs"],
        }
        theirs = lm_eval_ifeval.process_results(doc, [record["response"]])
        settled = [
            not _random_letter(i, k) for i, k in zip(record["instruction_id_list"], record["kwargs"], strict=True)
        ]
        for level, follows in (("strict", follows_strict), ("loose", follows_loose)):
            ours = [
                follows(i, record["response"], k)
                for i, k in zip(record["instruction_id_list"], record["kwargs"], strict=True)
            ]
            for index, (mine, lm_eval) in enumerate(zip(ours, theirs[f"inst_level_{level}_acc"], strict=True)):
                if settled[index]:
                    compared += 1
                    if mine != lm_eval:
                        iid = record["instruction_id_list"][index]
                        mismatches.append(f"{_where(record, iid)} {level}: ours {mine}, lm-eval {lm_eval}")
            if all(settled) and all(ours) != theirs[f"prompt_level_{level}_acc"]:
                mismatches.append(f"{record['source']} key {record['key']} prompt {level}")
    assert compared >= 2 * 830
    assert not mismatches, f"{len(mismatches)} verdicts differ:\n" + "\n".join(mismatches[:20])


@pytest.mark.timeout(60)
def test_sentences_and_words_are_nltks_own_for_the_references_model_name() -> None:
    """The reference loads "nltk:tokenizers/punkt/english.pickle" (NLTK >= 3.9 serves punkt_tab for it) and calls
    `nltk.word_tokenize`; with our pinned data on NLTK's path, those calls split as ours do."""
    import nltk

    from nemo_pipeline.evaluation.ifeval import nltk_data_dir, split_sentences
    from nemo_pipeline.evaluation.ifeval._text import word_tokens

    data = str(nltk_data_dir())
    nltk.data.path.insert(0, data)
    try:
        tokenizer = nltk.data.load("nltk:tokenizers/punkt/english.pickle")
        texts = [r["response"] for r in RECORDS[:120]] + ["Dr. Smith met Mr. J. R. R. Tolkien in the U.S. on Jan. 3."]
        for text in texts:
            assert split_sentences(text) == tokenizer.tokenize(text)
            assert word_tokens(text) == nltk.word_tokenize(text)
    finally:
        nltk.data.path.remove(data)
