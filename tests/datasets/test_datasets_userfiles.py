"""Benchmarks with no offline source: loaders for the official file formats, tested on small fixtures."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.datasets import BENCHMARKS, UserFile, data_path, is_prepared, prepare, sha256_file, validate_records
from nemo_pipeline.errors import DataError
from tests.datasets.conftest import FIXTURES, install_fixture

USER_FILE_BENCHMARKS = {"math500": 3, "mbpp": 2, "mmlu-pro": 3, "mt-bench-101": 2}  # items from each fixture
USER_FILE_BENCHMARKS.update(  # log-likelihood benchmarks and aime24 (tests/loglik, tests/datasets/test_yaml_*)
    {"hellaswag": 4, "arc_easy": 4, "arc_challenge": 4, "piqa": 4, "winogrande": 4, "truthfulqa_mc1": 3}
)
USER_FILE_BENCHMARKS.update({"truthfulqa_mc2": 3, "aime24": 3})


def test_every_user_file_benchmark_has_a_fixture() -> None:
    registered = {name for name in BENCHMARKS if isinstance(BENCHMARKS.get(name).source, UserFile)}
    assert registered == set(USER_FILE_BENCHMARKS)
    for name in registered:
        source = BENCHMARKS.get(name).source
        assert isinstance(source, UserFile)
        assert any((FIXTURES / name / filename).is_file() for filename in source.filenames), name


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", sorted(USER_FILE_BENCHMARKS))
def test_missing_user_file_says_where_to_put_it_and_where_it_comes_from(empty_cache: Path, name: str) -> None:
    source = BENCHMARKS.get(name).source
    assert isinstance(source, UserFile)
    with pytest.raises(DataError) as raised:
        prepare(name)
    message = str(raised.value)
    assert str(empty_cache / "sources" / name / source.filenames[0]) in message
    assert source.official_url in message
    assert f"prepare_data.py {name}" in message
    assert not is_prepared(name)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", sorted(USER_FILE_BENCHMARKS))
def test_user_file_loader_reads_its_fixture(empty_cache: Path, name: str) -> None:
    install_fixture(empty_cache, name)
    benchmark = BENCHMARKS.get(name)
    records = benchmark.load(benchmark.source)
    assert len(records) == USER_FILE_BENCHMARKS[name]
    validate_records(dataclasses.replace(benchmark, num_items=len(records)), records)
    assert records == benchmark.load(benchmark.source)  # stable
    # the fixture is not the complete file: prepare refuses it, naming the expected count
    with pytest.raises(DataError, match=f"expected {benchmark.num_items} items, the source gave {len(records)}"):
        prepare(name)


def _load(empty_cache: Path, name: str) -> list[dict]:
    install_fixture(empty_cache, name)
    benchmark = BENCHMARKS.get(name)
    return benchmark.load(benchmark.source)


@pytest.mark.timeout(30)
def test_math500_fields(empty_cache: Path) -> None:
    first, second, third = _load(empty_cache, "math500")
    assert first["id"] == "math500-prealgebra-901" and first["unique_id"] == "test/prealgebra/901.json"
    assert second["expected_answer"] == "\\frac{3}{4}" and third["subset"] == "Algebra" and third["level"] == 2
    assert "boxed" in first["reference_solution"]


@pytest.mark.timeout(30)
def test_mbpp_keeps_the_test_split_and_builds_the_test_program(empty_cache: Path) -> None:
    records = _load(empty_cache, "mbpp")
    assert [record["task_id"] for record in records] == [11, 12]  # 5 (prompt split) and 600 (train) left out
    square, vowels = records
    assert square["id"] == "mbpp-011" and square["tests_text"].count("assert") == 3
    assert vowels["test"].startswith("import string\nassert count_vowels")
    program = vowels["expected_answer"] + "\n" + vowels["test"]  # the reference passes its own tests
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert vowels["challenge_test_list"] == ["assert count_vowels('') == 0"]


@pytest.mark.timeout(30)
def test_mmlu_pro_options_and_letters(empty_cache: Path) -> None:
    records = _load(empty_cache, "mmlu-pro")
    assert [len(record["options"]) for record in records] == [6, 10, 4]
    assert records[1]["options"]["J"] == "160" and records[1]["expected_answer"] == "C"
    assert records[1]["options"][records[1]["expected_answer"]] == "144"
    assert records[0]["id"] == "mmlu-pro-70" and records[0]["subset"] == "chemistry"


@pytest.mark.timeout(30)
def test_mmlu_pro_answer_that_disagrees_with_its_index_is_rejected(empty_cache: Path) -> None:
    target = empty_cache / "sources" / "mmlu-pro"
    target.mkdir(parents=True)
    row = json.loads((FIXTURES / "mmlu-pro" / "test.jsonl").read_text().splitlines()[0])
    row["answer_index"] = 0
    (target / "test.jsonl").write_text(json.dumps(row) + "\n")
    benchmark = BENCHMARKS.get("mmlu-pro")
    with pytest.raises(DataError, match=r"test.jsonl: record 1 \(question_id 70\)"):
        benchmark.load(benchmark.source)


@pytest.mark.timeout(30)
def test_mt_bench_101_dialogues(empty_cache: Path) -> None:
    memory, planning = _load(empty_cache, "mt-bench-101")
    assert memory["id"] == "mt-bench-101-CM-1" and planning["id"] == "mt-bench-101-SI-1"
    assert planning["turns"] == [turn["user"] for turn in planning["history"]] and len(planning["turns"]) == 3
    assert planning["problem"] == "Food, mostly." and planning["subset"] == "SI"
    assert BENCHMARKS.get("mt-bench-101").multi_turn


@pytest.mark.timeout(30)
def test_a_file_in_the_wrong_format_is_named_with_the_record(empty_cache: Path) -> None:
    target = empty_cache / "sources" / "math500"
    target.mkdir(parents=True)
    (target / "test.jsonl").write_text(json.dumps({"question": "1+1?", "answer": "2"}) + "\n")
    benchmark = BENCHMARKS.get("math500")
    with pytest.raises(DataError, match=r"test\.jsonl: record 1 lacks problem, solution, subject, level, unique_id"):
        benchmark.load(benchmark.source)


@pytest.mark.timeout(30)
def test_known_sha256_of_a_user_file_is_checked(empty_cache: Path) -> None:
    (path,) = install_fixture(empty_cache, "math500")
    source = dataclasses.replace(BENCHMARKS.get("math500").source, sha256="0" * 64)
    with pytest.raises(DataError) as raised:
        source.path()
    assert str(path) in str(raised.value) and "0" * 64 in str(raised.value)
    assert dataclasses.replace(source, sha256=sha256_file(path)).path() == path


@pytest.mark.timeout(30)
def test_parquet_without_pyarrow_says_what_to_do(empty_cache: Path) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pyarrow is installed: the parquet path works")
    target = empty_cache / "sources" / "mmlu-pro"
    target.mkdir(parents=True)
    (target / "test-00000-of-00001.parquet").write_bytes(b"PAR1")
    benchmark = BENCHMARKS.get("mmlu-pro")
    with pytest.raises(DataError, match="pip install pyarrow"):
        benchmark.load(benchmark.source)


def _write_math500(path: Path, count: int, answer: str) -> None:
    rows = [
        {
            "problem": f"What is {n} + 1?",
            "solution": f"$\\boxed{{{n + 1}}}$",
            "answer": answer if n == 0 else str(n + 1),
            "subject": "Prealgebra",
            "level": 1,
            "unique_id": f"test/prealgebra/{n}.json",
        }
        for n in range(count)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


@pytest.mark.timeout(60)
def test_a_complete_user_file_prepares_and_a_replaced_one_is_prepared_again(empty_cache: Path) -> None:
    user_file = empty_cache / "sources" / "math500" / "test.jsonl"
    user_file.parent.mkdir(parents=True)
    _write_math500(user_file, 500, answer="1")
    path = prepare("math500")
    assert path == data_path("math500") and is_prepared("math500")
    manifest = json.loads(path.with_name("manifest.json").read_text())
    assert manifest["source_sha256"] == sha256_file(user_file) and manifest["num_items"] == 500
    _write_math500(user_file, 500, answer="one")  # the user replaced the file
    assert not is_prepared("math500")
    prepare("math500")
    assert json.loads(path.read_text().splitlines()[0])["expected_answer"] == "one"
    user_file.unlink()  # a removed user file does not invalidate what was prepared from it
    assert is_prepared("math500")
