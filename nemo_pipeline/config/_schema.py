"""Structured configs: one dataclass per stage. They are the schema every YAML file and `++` override is checked
against, so a wrong key or a value of the wrong type fails before anything starts."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from nemo_pipeline.config._generation import InferenceConfig, resolve_inference

__all__ = [
    "ClientConfig",
    "ConcurrencyConfig",
    "EvalConfig",
    "EvaluateConfig",
    "ExportConfig",
    "GenerateConfig",
    "GenerationConfig",
    "GradingConfig",
    "InferenceConfig",
    "JudgeConfig",
    "MetricsConfig",
    "SandboxConfig",
    "ServerConfig",
    "generation_part",
]


@dataclass
class ServerConfig:
    """Which model server to use. With no address, a server of `server_type` is started and stopped by the stage."""

    server_type: str = "llamacpp"
    address: str | None = None  # OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1
    model: str = ""  # path or served name; "" = the type's embedded default (llamacpp: Gemma 3 270M)
    port: int = 0  # 0: a free port
    gpus: int = 0
    tensor_parallel: int = 1
    parallel_requests: int = 4
    context_length: int = 4096
    start_timeout_s: float = 300.0
    api_key_env: str = "OPENAI_API_KEY"  # environment variable holding the key for remote servers
    extra_args: list[str] = field(default_factory=list)


@dataclass
class SandboxConfig:
    """The code-execution sandbox. With no address, a local one is started when a stage needs it."""

    address: str | None = None
    start_timeout_s: float = 60.0


@dataclass
class GradingConfig:
    timeout_s: float = 10.0  # per answer; a timeout is a verdict
    workers: int = 0  # 0: one per core
    # The evaluate stage fails when more than this share of a file's verdicts are grader errors (the grader or the
    # sandbox failed, not the answer); the graded file is written first and metrics.json counts them (grader_errors).
    max_error_rate: float = 0.02


@dataclass
class ConcurrencyConfig:
    """Bounds of the adaptive in-flight request limit (unused when `max_concurrent_requests` pins it). Before the
    server's first answer it ramps up to `initial`; then it grows while the server keeps up, backs off on
    429/503/timeouts, and stays within [min, max]."""

    min: int = 1
    max: int = 1024
    # Requests in flight before the server has answered any. None: the server's slot count when that is fixed
    # (llama.cpp, NeMo, llama-cpp-python), else inference._concurrency.OPENING_BURST (a server that queues, or a
    # rate-limited API whose refusals end the ramp within a network round trip).
    initial: int | None = None


@dataclass
class ClientConfig:
    """A model server and how requests are sent to it. The generate stage, `pipeline/eval.py` and the judge extend it,
    so each setting has one declaration and default and keeps its plain key (`++max_retries`, `++judge.max_retries`)."""

    server: ServerConfig = field(default_factory=ServerConfig)
    max_concurrent_requests: int | None = None  # None: adaptive (see `concurrency`); a number pins the limit
    concurrency: ConcurrencyConfig = field(default_factory=ConcurrencyConfig)
    request_timeout_s: float = 300.0
    max_retries: int = 4


@dataclass
class JudgeConfig(ClientConfig):
    """The LLM-as-judge generation run before the `judge` / `judge_pairwise` graders. With no `server.address`, a
    server of `server.server_type` is started for it (default: the embedded llama.cpp model)."""

    mode: str = "single"  # "single": rate each answer 1-10; "pairwise": compare with the item's baseline answer
    prompt_config: str | None = None  # None: judge/single or judge/pairwise (by mode)
    reference_prompt_config: str | None = None  # for items with a reference; None: judge/<mode>-reference
    baseline_field: str = "baseline_answer"  # pairwise: the item field holding the answer to compare against
    # None: the judge protocol's own (MT-Bench/FastChat: 0.0 and 2048; MT-Bench-101/OpenCompass: 0.8 and 4096), else
    # the global defaults of `config._generation` (the project's judge prompts); resolved by `resolve_inference`
    temperature: float | None = None
    tokens_to_generate: int | None = None


@dataclass
class GenerationConfig(ClientConfig):
    """What every generate task of a run shares. `EvalConfig` extends it, and so does each generate job's
    `GenerateConfig`, which takes this part of eval.py's settings as it is (`generation_part`)."""

    inference: InferenceConfig = field(default_factory=InferenceConfig)  # unset values: `resolve_inference`
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    max_samples: int = -1  # -1: all items
    max_samples_per_subset: int = -1  # the first N items of every subset (-1: all), in file order; before max_samples
    num_chunks: int = 1
    code_execution: bool = False
    max_code_executions: int = 4
    code_execution_timeout_s: float = 10.0


def generation_part(cfg: GenerationConfig) -> dict[str, Any]:
    """The `GenerationConfig` fields of `cfg` (deep copies: the two configs stay independent), as keyword arguments
    for another config that extends it."""
    return {item.name: copy.deepcopy(getattr(cfg, item.name)) for item in dataclasses.fields(GenerationConfig)}


@dataclass
class GenerateConfig(GenerationConfig):
    input_file: str = ""  # required unless tasks_file is given
    output_file: str = ""  # required unless tasks_file is given
    prompt_config: str = "generic/math-fewshot"
    # Run by hand the stage has no benchmark: every unset value is the global default (`resolve_inference`).
    inference: InferenceConfig = field(default_factory=lambda: resolve_inference(InferenceConfig()))
    chunk_id: int = 0
    progress: bool = True
    log_dir: str | None = None  # server and sandbox logs; None: <output dir>/logs
    # A grouped server job: a JSON list of tasks, each a list of `++key=value` overrides of this config. The server
    # starts once and every task not yet complete runs against it; the command line's overrides apply to each.
    tasks_file: str | None = None


@dataclass
class EvaluateConfig:
    input_files: list[str] = MISSING
    grader: str = "math"
    num_chunks: int = 1  # >1: each input file is first merged from its chunk files (output-chunk<i>.jsonl)
    # Fail, naming the file, when its generate step is not complete for its selection (eval.py's jobs set it; a file
    # made by hand, with no done marker, is graded whole when it is false).
    require_generated: bool = False
    grading: GradingConfig = field(default_factory=GradingConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    log_dir: str | None = None  # sandbox and judge-server logs; None: <input file dir>/logs


@dataclass
class MetricsConfig:
    benchmark_dir: str = MISSING  # <output_dir>/eval-results/<benchmark>
    # The graded output files to read, by name (output.jsonl, output-rs0.jsonl, ...); empty: every one in the folder
    input_files: list[str] = field(default_factory=list)
    protocol: str = "official"  # the benchmark protocol the files were generated and graded under (recorded)


@dataclass
class ExportConfig:
    """Experiment trackers the run's summary is logged to when it is written (None: not logged there)."""

    mlflow: str | None = None  # an MLflow tracking URI: sqlite:///path/mlflow.db, http://host:5000, ...
    mlflow_experiment: str = "nemo-pipeline"
    wandb: str | None = None  # a Weights & Biases project (WANDB_MODE=offline writes the run locally)


@dataclass
class EvalConfig(GenerationConfig):
    """What `pipeline/eval.py` accepts as `++` overrides. Its `GenerationConfig` part goes to every generate job as it
    is; `grading`, `judge` and `sandbox` go to the evaluate jobs; the benchmark fills what is left unset."""

    # "official" (each benchmark's reference protocol) or a benchmark's named variant; tables name it
    protocol: str = "official"
    prompt_config: str | None = None  # None: the benchmark's default prompt
    grading: GradingConfig = field(default_factory=GradingConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    num_jobs: int = (
        1  # server jobs per model; each starts the server once for its share of generate tasks; 0: one per task
    )
    export: ExportConfig = field(default_factory=ExportConfig)
