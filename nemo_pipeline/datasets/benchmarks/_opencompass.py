"""MT-Bench-101's judge texts, read as data from OpenCompass's pinned wheel (the official scorer's home).

`opencompass/datasets/subjective/mtbench101.py` holds the judge preamble, the 13 task rubrics, the score-format
note and the two user templates (with and without a reference solution) as string literals. They are read with
`ast` from the checksummed wheel, never executed and never copied into this project.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass

from nemo_pipeline.datasets._source import PyPIWheel
from nemo_pipeline.errors import DataError

__all__ = ["MT_BENCH_101_MODULE", "OPENCOMPASS", "MTBench101Texts", "mt_bench_101_texts"]

OPENCOMPASS = PyPIWheel(
    package="opencompass",
    version="0.5.4",
    sha256="362aafb77b264d9eb51e4a8f6730d22c98ea93a8d73f5f1be56928ed3141474a",
    license="Apache-2.0 (OpenCompass LICENSE in the wheel)",
)
MT_BENCH_101_MODULE = "opencompass/datasets/subjective/mtbench101.py"


@dataclass(frozen=True)
class MTBench101Texts:
    """The judge texts of OpenCompass's MT-Bench-101 scorer."""

    judge: str  # the preamble every system prompt starts with
    score_format: str  # the note every system prompt ends with
    rubrics: dict[str, str]  # task code -> rubric (13 tasks)
    template: str  # user message: "{history} {prediction}"
    reference_template: str  # user message for tasks with a reference solution: adds "{ref_answer}"
    skip_first_tasks: tuple[str, ...]  # tasks whose first turn is not judged
    need_ref_tasks: tuple[str, ...]  # tasks judged against the golden dialogue as reference solution

    def system_prompt(self, task: str) -> str:
        """OpenCompass's system prompt for `task`: preamble + rubric + score format."""
        if task not in self.rubrics:
            raise DataError(
                f"mt-bench-101: unknown task {task!r} (OpenCompass knows {', '.join(sorted(self.rubrics))})"
            )
        return self.judge + self.rubrics[task] + self.score_format


def _constant(node: ast.expr, where: str) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise DataError(f"{OPENCOMPASS.description}: {MT_BENCH_101_MODULE}: {where} is not a literal") from None


def parse_texts(source: str) -> MTBench101Texts:
    """Read the judge texts out of the module's source (pure; raises DataError when one is missing)."""
    tree = ast.parse(source)
    strings: dict[str, str] = {}
    lists: dict[str, tuple[str, ...]] = {}
    rubric_names: dict[str, str] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            strings[name] = node.value.value
        elif isinstance(node.value, ast.List):
            value = _constant(node.value, name)
            assert isinstance(value, list)
            lists[name] = tuple(str(v) for v in value)
        elif isinstance(node.value, ast.Dict) and name == "unique_prompt":
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                if not (isinstance(key, ast.Constant) and isinstance(value, ast.Name)):
                    raise DataError(f"{MT_BENCH_101_MODULE}: unique_prompt is not a mapping of task code to a name")
                rubric_names[str(key.value)] = value.id
    templates = [
        call.func.value.value
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "format"
        and isinstance(call.func.value, ast.Constant)
        and isinstance(call.func.value.value, str)
        and "{history}" in call.func.value.value
    ]
    with_ref = [t for t in templates if "{ref_answer}" in t]
    without_ref = [t for t in templates if "{ref_answer}" not in t]
    missing = [n for n in ("judge", "score_format") if n not in strings]
    missing += [n for n in ("skip_first_tasks", "need_ref_tasks") if n not in lists]
    missing += [f"rubric {v}" for v in rubric_names.values() if v not in strings]
    if not rubric_names:
        missing.append("unique_prompt")
    if len(with_ref) != 1 or len(without_ref) != 1:
        missing.append("the two eval_prompt_construct templates")
    if missing:
        raise DataError(f"{OPENCOMPASS.description}: {MT_BENCH_101_MODULE} lacks {', '.join(missing)}")
    return MTBench101Texts(
        judge=strings["judge"],
        score_format=strings["score_format"],
        rubrics={task: strings[name] for task, name in rubric_names.items()},
        template=without_ref[0],
        reference_template=with_ref[0],
        skip_first_tasks=lists["skip_first_tasks"],
        need_ref_tasks=lists["need_ref_tasks"],
    )


@functools.lru_cache(maxsize=1)
def mt_bench_101_texts() -> MTBench101Texts:
    """The judge texts from the pinned, checksummed OpenCompass wheel (downloaded once into the cache)."""
    return parse_texts(OPENCOMPASS.read_member(MT_BENCH_101_MODULE).decode("utf-8"))
