"""Every benchmark's prompt renders on its first item; every benchmark's conf file agrees with its registry entry."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import pytest
import yaml

from nemo_pipeline.datasets import BENCHMARKS, PyPIWheel, load_items
from tests.datasets.conftest import install_fixture

CONF = Path(__file__).resolve().parents[2] / "conf"
PROMPT_KEYS = {"system", "user", "few_shot_examples", "few_shot_template", "few_shot_separator", "mode", "stop"}


def _prompt(name: str) -> dict[str, Any]:
    return yaml.safe_load((CONF / "prompt" / f"{name}.yaml").read_text())


def _render(prompt: dict[str, Any], item: dict[str, Any]) -> str:
    """A minimal renderer: few-shot examples, then the user template filled with the item's fields."""
    shots = [prompt["few_shot_template"].format(**example) for example in prompt.get("few_shot_examples") or []]
    return prompt.get("system", "") + "".join(shots) + prompt["user"].format(**item)


def _first_item(name: str, cache: Path) -> dict[str, Any]:
    benchmark = BENCHMARKS.get(name)
    if isinstance(benchmark.source, PyPIWheel):
        return load_items(name)[0]
    install_fixture(cache, name)
    return benchmark.load(benchmark.source)[0]


@pytest.mark.parametrize("path", sorted((CONF / "prompt").rglob("*.yaml")), ids=lambda p: p.stem)
def test_prompt_files_have_the_shared_fields(path: Path) -> None:
    prompt = yaml.safe_load(path.read_text())
    assert set(prompt) <= PROMPT_KEYS and "user" in prompt
    assert prompt["mode"] in ("completion", "chat")
    assert isinstance(prompt.get("system", ""), str)
    for example in prompt.get("few_shot_examples") or []:
        assert set(example) == {"problem", "solution"}
        prompt["few_shot_template"].format(**example)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", BENCHMARKS.names())
def test_the_benchmark_prompt_renders_on_its_first_item(wheel_cache: Path, name: str) -> None:
    benchmark = BENCHMARKS.get(name)
    prompt = _prompt(benchmark.prompt_config)
    item = _first_item(name, wheel_cache)
    fields = {field for _, field, _, _ in string.Formatter().parse(prompt["user"]) if field}
    assert fields <= set(item), f"{benchmark.prompt_config} reads {fields - set(item)} that {name} items lack"
    text = _render(prompt, item)
    assert item["problem"] in text or item.get("prompt", "\0") in text
    assert "{" not in prompt["user"].format(**{key: "" for key in fields}).replace("{}", "")  # no stray placeholder
    if benchmark.multi_turn:
        for turn in item["turns"]:
            assert turn in _render(prompt, {**item, "problem": turn})


def test_math_fewshot_examples_follow_the_answer_pattern(wheel_cache: Path) -> None:
    prompt = _prompt("generic/math-fewshot")
    assert prompt["mode"] == "completion"
    examples = prompt["few_shot_examples"]
    assert 4 <= len(examples) <= 8
    for example in examples:
        assert re.search(r"The answer is -?\d+\.$", example["solution"]), example
    test_problems = {item["problem"] for item in load_items("gsm8k")}
    assert not test_problems & {example["problem"] for example in examples}  # not taken from the test set
    rendered = _render(prompt, {"problem": "Ann has 2 apples."})
    assert rendered.endswith("Question: Ann has 2 apples.\nAnswer:")


@pytest.mark.parametrize("name", BENCHMARKS.names())
def test_every_benchmark_names_a_prompt_that_exists(name: str) -> None:
    # The benchmark's module is the one owner of its defaults; conf/benchmark/ holds only file-defined benchmarks.
    prompt = BENCHMARKS.get(name).prompt_config
    assert prompt.endswith((".yaml", ".yml")) or (CONF / "prompt" / f"{prompt}.yaml").is_file()
