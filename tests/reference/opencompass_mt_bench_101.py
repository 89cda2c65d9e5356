"""Run OpenCompass's own MT-Bench-101 code on dialogues and scripted judge outputs (a subprocess driver).

Usage: python opencompass_mt_bench_101.py OPENCOMPASS_DIR INPUT.json OUTPUT.json

OPENCOMPASS_DIR holds `opencompass/` files extracted from the pinned opencompass wheel: the real
datasets/subjective/{mtbench101,utils}.py and summarizers/subjective/mtbench101.py. OpenCompass's package
`__init__`s pull in torch, mmengine and Hugging Face datasets; the modules those files import from are replaced by
stand-ins here (a registry whose decorator returns the class, `Dataset.from_list` returning the list, a data path
taken as given). The loading, prompt building, rating parse and aggregation are OpenCompass's code, unchanged.

INPUT: {"data_dir": dir holding mtbench101.jsonl, "judgments": [one text per dataset row, in row order] or null}
OUTPUT: {"rows": [MTBench101Dataset rows], "dataset_results": mtbench101_postprocess's result (without details),
"summarizer_average": the summarizer's get_final_results}
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def _module(name: str, **attrs: object) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__path__ = []  # type: ignore[attr-defined]  # a package, so that submodules can be added
    for key, value in attrs.items():
        setattr(module, key, value)
    sys.modules[name] = module
    return module


class _Registry:
    def register_module(self, *args: object, **kwargs: object) -> Callable[[T], T]:
        return lambda obj: obj


def _load(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _install_stand_ins() -> None:
    _module("datasets", Dataset=type("Dataset", (), {"from_list": staticmethod(list)}), DatasetDict=dict)
    _module("mmengine", ConfigDict=dict, mkdir_or_exist=lambda path: Path(path).mkdir(parents=True, exist_ok=True))
    _module("opencompass")
    _module(
        "opencompass.utils",
        get_data_path=lambda path, local_mode=True: path,
        model_abbr_from_cfg=lambda cfg: str(cfg),
        dataset_abbr_from_cfg=lambda cfg: str(cfg),
    )
    _module("opencompass.registry", DICT_POSTPROCESSORS=_Registry(), LOAD_DATASET=_Registry())
    _module("opencompass.datasets")
    _module("opencompass.datasets.base", BaseDataset=object)
    _module("opencompass.datasets.subjective")
    _module("opencompass.summarizers")
    _module("opencompass.summarizers.subjective")
    _module("opencompass.summarizers.subjective.compass_arena", CompassArenaSummarizer=object)
    _module("opencompass.summarizers.subjective.utils", get_outdir=None, get_judgeanswer_and_reference=None)


def main() -> None:
    root, input_path, output_path = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    spec = json.loads(Path(input_path).read_text(encoding="utf-8"))
    _install_stand_ins()
    _load("opencompass.datasets.subjective.utils", root / "opencompass/datasets/subjective/utils.py")
    dataset_module = _load(
        "opencompass.datasets.subjective.mtbench101", root / "opencompass/datasets/subjective/mtbench101.py"
    )
    summarizer = _load(
        "opencompass.summarizers.subjective.mtbench101", root / "opencompass/summarizers/subjective/mtbench101.py"
    )
    rows = dataset_module.MTBench101Dataset().load(path=spec["data_dir"], name="mtbench101")
    out: dict[str, object] = {"rows": rows}
    judgments = spec.get("judgments")
    if judgments is not None:
        pairs = enumerate(zip(judgments, rows, strict=True))
        output = {str(i): {"prediction": text, "gold": row["judge"]} for i, (text, row) in pairs}
        results = dataset_module.mtbench101_postprocess(output, "scripted")
        results.pop("details", None)
        out["dataset_results"] = results
        answers, references = [], []
        for value in output.values():
            parsed = summarizer.post_process_mtbench101(value["prediction"])
            if parsed is not None:
                answers.append(parsed)
                references.append(value["gold"])
        with tempfile.TemporaryDirectory() as tmp:
            out["summarizer_average"] = summarizer.get_final_results(answers, references, tmp, 0, "model", "judge")
    Path(output_path).write_text(json.dumps(out), encoding="utf-8")


if __name__ == "__main__":
    main()
