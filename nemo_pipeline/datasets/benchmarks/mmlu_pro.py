"""MMLU-Pro test split: 12,032 questions with up to ten choices in 14 categories (user file), scored as TIGER-AI-Lab's
evaluate_from_local.py does: 5-shot chain of thought from the validation split of the question's category."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, Reference, Variant, register_benchmark
from nemo_pipeline.datasets._formats import (
    LETTERS,
    mcq_options,
    options_text,
    read_records,
    require_fields,
    slug,
)
from nemo_pipeline.datasets._source import UserFile, sha256_file
from nemo_pipeline.datasets.benchmarks._loglik import fewshot_file
from nemo_pipeline.errors import DataError

SOURCE = UserFile(
    benchmark="mmlu-pro",
    filenames=("test.jsonl", "test-00000-of-00001.parquet"),
    official_url="https://huggingface.co/datasets/TIGER-Lab/MMLU-Pro/tree/main/data, file test-00000-of-00001.parquet "
    "(and validation-00000-of-00001.parquet beside it for the 5-shot examples)",
    license="MIT (TIGER-Lab/MMLU-Pro dataset card)",
    how_to="The parquet files need pyarrow; or convert each once to JSON Lines (test.jsonl, validation.jsonl), e.g. "
    "`python -c \"import pandas as p; p.read_parquet('test-00000-of-00001.parquet')"
    ".to_json('test.jsonl', orient='records', lines=True)\"`.",
)
VALIDATION_FILES = ("validation.jsonl", "validation-00000-of-00001.parquet")
FIELDS = ("question_id", "question", "options", "answer", "answer_index", "category")
NUM_FEWSHOT = 5

REFERENCE = Reference(
    repository="TIGER-AI-Lab/MMLU-Pro",
    commit="f418b116db00b065c2aea046518d8fcf74d39872",
    files=("evaluate_from_local.py", "evaluate_from_api.py", "cot_prompt_lib/initial_prompt.txt"),
    protocol="5-shot chain of thought (the first five validation questions of the item's category, with their "
    "cot_content) in completion mode, greedy, stop at 'Question:'; the answer is the first 'answer is (X)', else the "
    "last 'Answer: X', else the last standalone letter A-J; an item with no answer scores a uniform random guess "
    "among its options; accuracy over all questions (micro average).",
)
# The instruction line of evaluate_from_local.py: cot_prompt_lib/initial_prompt.txt at REFERENCE.commit, verbatim
# (Apache-2.0, TIGER-AI-Lab), with "{$}" standing for the category.
INITIAL_PROMPT = Path(__file__).with_name("data") / "mmlu-pro-initial_prompt.txt"
INITIAL_PROMPT_SHA256 = "d7337806b4d84eef7a86bcb20bf3d64b65e72736c1603e16d08cadebac436f0a"


def _initial_prompt() -> str:
    if sha256_file(INITIAL_PROMPT) != INITIAL_PROMPT_SHA256:
        raise DataError(f"{INITIAL_PROMPT}: sha256 differs from the pinned {INITIAL_PROMPT_SHA256}")
    return INITIAL_PROMPT.read_text(encoding="utf-8")


def official_options(row: dict[str, Any]) -> list[str]:
    """The options as the reference keeps them: "N/A" padding dropped."""
    return [str(option) for option in row["options"] if option != "N/A"]


def _options_block(options: list[str], header: str) -> str:
    return header + "".join(f"{LETTERS[i]}. {option}\n" for i, option in enumerate(options))


def local_example(row: dict[str, Any], with_answer: bool) -> str:
    """evaluate_from_local.py's `format_cot_example`: a few-shot example with its chain of thought, or the question."""
    text = "Question:\n" + str(row["question"]) + "\n" + _options_block(official_options(row), "Options:\n")
    if with_answer:
        cot = str(row["cot_content"]).replace("A: Let's think step by step.", "Answer: Let's think step by step.")
        return text + cot + "\n\n"
    return text + "Answer: Let's think step by step."


def api_example(row: dict[str, Any], with_answer: bool) -> str:
    """evaluate_from_api.py's `format_example` (the question itself gets "Let's think step by step." too)."""
    cot = str(row["cot_content"]) if with_answer else ""
    if cot == "":
        cot = "Let's think step by step."
    if cot.startswith("A: "):
        cot = cot[3:]
    text = f"Question: {row['question']}\n" + _options_block(official_options(row), "Options: ")
    return text + "Answer: " + cot + "\n\n"


def local_prompt(row: dict[str, Any], shots: list[dict[str, Any]], instruction: str) -> str:
    """evaluate_from_local.py's `generate_cot_prompt` for one test row and its category's first k validation rows."""
    prompt = instruction.replace("{$}", str(row["category"])) + "\n"
    return prompt + "".join(local_example(s, True) for s in shots) + local_example(row, False)


def api_prompt(row: dict[str, Any], shots: list[dict[str, Any]]) -> str:
    """evaluate_from_api.py's single user message: instruction, the category's examples (all its validation
    questions, five in the official split), then the question."""
    prompt = (
        f"The following are multiple choice questions (with answers) about {row['category']}. Think step by step "
        'and then output the answer in the format of "The answer is (X)" at the end.\n\n'
    )
    return prompt + "".join(api_example(s, True) for s in shots) + api_example(row, False)


def _validation(source: UserFile, num_fewshot: int) -> dict[str, list[dict[str, Any]]]:
    path = fewshot_file(source, VALIDATION_FILES, num_fewshot)
    by_category: dict[str, list[dict[str, Any]]] = {}
    if path is None:
        return by_category
    for index, row in enumerate(read_records(path)):
        require_fields(path, index, row, (*FIELDS, "cot_content"))
        by_category.setdefault(str(row["category"]), []).append(row)
    return by_category


def build(source: UserFile, num_fewshot: int = NUM_FEWSHOT) -> list[dict[str, Any]]:
    """Items with `options` {"A": ...} (up to "J"), `expected_answer` a letter, the category as the subset, and the
    reference's prompts: `fewshot_prompt` (evaluate_from_local, the default) and `chat_prompt` (evaluate_from_api)."""
    path = source.path()
    rows = read_records(path)
    for index, row in enumerate(rows):
        require_fields(path, index, row, FIELDS)
        choices = official_options(row)
        answer = str(row["answer"]).strip()
        if answer not in LETTERS[: len(choices)] or LETTERS[int(row["answer_index"])] != answer:
            raise DataError(
                f"{path}: record {index + 1} (question_id {row['question_id']}): answer {answer!r} does not "
                f"match answer_index {row['answer_index']} of {len(choices)} options"
            )
    shots_of = _validation(source, num_fewshot)
    instruction = _initial_prompt()
    records = []
    for index, row in enumerate(rows):
        category = str(row["category"])
        if num_fewshot and category not in shots_of:
            raise DataError(
                f"{path}: record {index + 1}: the validation split has no question of category {category!r}"
            )
        shots = shots_of.get(category, [])[:num_fewshot]
        options = mcq_options(official_options(row))
        records.append(
            {
                "id": f"mmlu-pro-{row['question_id']}",
                "problem": row["question"],
                "options": options,
                "options_text": options_text(options),
                "expected_answer": str(row["answer"]).strip(),
                "subset": slug(category),
                "src": row.get("src"),
                "fewshot_prompt": local_prompt(row, shots, instruction),
                "chat_prompt": api_prompt(row, shots_of.get(category, []) if num_fewshot else []),
            }
        )
    return records


def load(source: UserFile) -> list[dict[str, Any]]:
    return build(source)


register_benchmark(
    Benchmark(
        name="mmlu-pro",
        description="MMLU-Pro test split: harder multiple choice with up to ten options, 5-shot chain of thought",
        source=SOURCE,
        load=load,
        grader="mmlu-pro",
        prompt_config="mmlu-pro/cot-5shot",
        num_items=12032,
        tokens_to_generate=2048,
        data_version=2,
        reference=REFERENCE,
        variants=(
            (
                "chat",
                Variant(
                    "evaluate_from_api.py: the same 5 shots in one chat message, '**' removed before extraction",
                    prompt_config="mmlu-pro/chat-5shot",
                    grader="mmlu-pro-chat",
                ),
            ),
            (
                "zero-shot",
                Variant(
                    "our zero-shot chat prompt ('Answer: X') and lenient multiple-choice extraction, no guess",
                    prompt_config="generic/mcq",
                    grader="mcq",
                ),
            ),
        ),
        num_fewshot=NUM_FEWSHOT,
    )
)
