"""Published baselines: the scores a model card, paper or blog states for a model, read from the shipped file
(conf/published/baselines.yaml) and a user's own file, and compared with a run where the setting is the same.

A published score is compared only where the run's shots and metric equal the source's; otherwise both settings are
shown and no delta is computed, so a 5-shot macro average is never set beside a 0-shot micro average.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nemo_pipeline.config import typed_from_mapping
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.layout import CONF_DIR
from nemo_pipeline.registry import closest
from nemo_pipeline.report._campaign import ModelInfo
from nemo_pipeline.report._load import ModelRun

__all__ = [
    "COMPARABLE_METRICS",
    "PublishedComparison",
    "PublishedModel",
    "PublishedRow",
    "PublishedScore",
    "choose_published",
    "compare_published",
    "find_published",
    "load_published",
    "shipped_baselines_file",
]

# A source's metric name -> (the key of a metrics.json block holding it, the factor that makes it percent).
# acc_char (Meta's model cards) is accuracy with each choice's log-likelihood divided by its length in characters:
# lm-evaluation-harness's acc_norm. Any other name (a macro average, a metric the source does not name) is shown,
# never compared.
COMPARABLE_METRICS: dict[str, tuple[str, float]] = {
    "accuracy": ("accuracy", 1.0),
    "acc": ("acc", 100.0),
    "acc_norm": ("acc_norm", 100.0),
    "acc_char": ("acc_norm", 100.0),
}

CAUSES = (
    "check the chat template (published base-model numbers use none; an instruct model needs its own), the prompt "
    "format and shots against the source, and that the checkpoint is the published one (base or instruct, "
    "precision or quantization)"
)


@dataclass(frozen=True)
class PublishedScore:
    """One published number: `benchmark` as this pipeline names it, shots and metric as the source states them."""

    benchmark: str
    shots: int
    metric: str  # "" when the source names no metric
    value: float  # percent
    source: str  # model card, paper or blog (URL)
    date: str  # date of the source, YYYY-MM-DD
    label: str = ""  # the source's own name of the benchmark
    note: str = ""

    @property
    def setting(self) -> str:
        return f"{self.shots}-shot, {self.metric or 'metric not stated'}"


@dataclass(frozen=True)
class PublishedModel:
    name: str
    scores: tuple[PublishedScore, ...]
    file: Path  # where it was read


@dataclass(frozen=True)
class PublishedRow:
    """One published score beside a run: `delta` is set only when the settings match (`status` "compared")."""

    score: PublishedScore
    status: str  # compared | shots differ | metric differs | not run
    detail: str  # the run's side, in words
    value: float | None = None  # the run's value of the published metric, percent
    std_err: float | None = None

    @property
    def delta(self) -> float | None:
        return None if self.value is None else self.value - self.score.value


@dataclass(frozen=True)
class PublishedComparison:
    """A run against one published model."""

    run: str
    published: str
    rows: tuple[PublishedRow, ...]

    @property
    def compared(self) -> list[PublishedRow]:
        return [r for r in self.rows if r.delta is not None]

    def verdict(self) -> str:
        rows = self.compared
        head = f"{self.run} against published {self.published}"
        if not rows:
            return f"{head}: no benchmark ran with the published shots and metric, so nothing is compared"
        above = sum(1 for r in rows if r.delta is not None and r.delta > 0)
        below = sum(1 for r in rows if r.delta is not None and r.delta < 0)
        text = f"{head}: above on {above} of {len(rows)} compared benchmark(s), below on {below}"
        if below * 2 > len(rows):
            text += f"; below on most: {CAUSES}"
        return text


def shipped_baselines_file() -> Path:
    return CONF_DIR / "published" / "baselines.yaml"


def _score(where: str, data: object) -> PublishedScore:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with benchmark, shots, metric, value, source, date")
    data = {k: (v.isoformat() if isinstance(v, _dt.date) else v) for k, v in data.items()}
    score = typed_from_mapping(PublishedScore, data, where, numbers_as_text=False)
    if not score.benchmark:
        raise ConfigError(f"{where}: key 'benchmark' must name a benchmark")
    if score.shots < 0:
        raise ConfigError(f"{where}: key 'shots' must be >= 0, got {score.shots}")
    if not math.isfinite(score.value) or not 0 <= score.value <= 100:
        raise ConfigError(f"{where}: key 'value' must be a percentage between 0 and 100, got {score.value}")
    if not score.source.strip():
        raise ConfigError(f"{where}: key 'source' must name the model card, paper or blog the value comes from")
    try:
        _dt.date.fromisoformat(score.date)
    except ValueError:
        raise ConfigError(f"{where}: key 'date' must be a date YYYY-MM-DD, got {score.date!r}") from None
    return score


def _read_file(path: Path) -> dict[str, PublishedModel]:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"published baselines {path}: cannot read it: {err.strerror or err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"published baselines {path}: not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict) or set(data) != {"models"}:
        raise ConfigError(f"published baselines {path}: expected a mapping with one key 'models' (name -> scores)")
    models = {}
    for name, scores in data["models"].items():
        where = f"{path}: models.{name}"
        if not isinstance(scores, list) or not scores:
            raise ConfigError(f"{where}: expected a non-empty list of scores")
        parsed = tuple(_score(f"{where}[{i}]", s) for i, s in enumerate(scores))
        seen = [s.benchmark for s in parsed]
        twice = sorted({b for b in seen if seen.count(b) > 1})
        if twice:
            raise ConfigError(f"{where}: benchmark(s) {', '.join(twice)} listed more than once")
        models[str(name)] = PublishedModel(str(name), parsed, path)
    return models


def load_published(user_file: Path | None = None) -> dict[str, PublishedModel]:
    """The shipped published scores, then the user's file: a model it names replaces the shipped one."""
    models = _read_file(shipped_baselines_file())
    if user_file is not None:
        models.update(_read_file(user_file))
    return models


def find_published(models: Mapping[str, PublishedModel], name: str, where: str = "--published") -> PublishedModel:
    """The published model called `name`; ConfigError naming the known ones otherwise."""
    if name in models:
        return models[name]
    known = ", ".join(sorted(models))
    raise ConfigError(f"{where}: no published scores for '{name}'.{closest(name, list(models))} Known: {known}")


def _row(run: ModelRun, score: PublishedScore, shots_of: Mapping[str, int | None]) -> PublishedRow:
    bench = run.benchmarks.get(score.benchmark)
    if bench is None or bench.metrics is None or "all" not in bench.metrics:
        return PublishedRow(score, "not run", "no results for this benchmark in the run")
    block = bench.metrics["all"]
    reported = ", ".join(k for k in ("accuracy", "acc", "acc_norm") if k in block) or "no accuracy"
    comparable = COMPARABLE_METRICS.get(score.metric)
    if comparable is None or comparable[0] not in block:
        published = f"'{score.metric}'" if score.metric else "no metric named by the source"
        return PublishedRow(score, "metric differs", f"published {published}; this run reports {reported}")
    shots = shots_of.get(score.benchmark) if bench.protocol == "official" else None
    if shots is None:
        why = "its protocol declares no shot count" if bench.protocol == "official" else f"protocol {bench.protocol}"
        return PublishedRow(score, "shots differ", f"published {score.shots}-shot; this run's shots unknown ({why})")
    if shots != score.shots:
        return PublishedRow(score, "shots differ", f"published {score.shots}-shot; this run {shots}-shot")
    key, factor = comparable
    std_err = block.get(f"{key}_std_err", block.get(f"{key}_stderr"))
    return PublishedRow(
        score,
        "compared",
        f"{shots}-shot, {key}",
        block[key] * factor,
        None if std_err is None else std_err * factor,
    )


def compare_published(
    run: ModelRun, published: PublishedModel, shots_of: Mapping[str, int | None]
) -> PublishedComparison:
    """Every published score of `published` beside `run`, compared where shots and metric match.

    `shots_of` maps a benchmark to the shots of its official protocol (None: not declared)."""
    rows = tuple(_row(run, score, shots_of) for score in published.scores)
    return PublishedComparison(run.name, published.name, rows)


def choose_published(
    runs: list[str], infos: Mapping[str, ModelInfo], name: str | None = None, user_file: Path | None = None
) -> dict[str, PublishedModel]:
    """Run name -> the published model to compare it with: `name` (from `user_file` or the shipped file) for every
    run when given, else each run's own `published` (campaign.json or run.json, with its own file)."""
    loaded: dict[Path | None, dict[str, PublishedModel]] = {}

    def models(file: Path | None) -> dict[str, PublishedModel]:
        if file not in loaded:
            loaded[file] = load_published(file)
        return loaded[file]

    if name:
        chosen = find_published(models(user_file), name)
        return {run: chosen for run in runs}
    found = {}
    for run in runs:
        info = infos.get(run)
        if info is not None and info.published:
            file = Path(info.published_file) if info.published_file else user_file
            found[run] = find_published(models(file), info.published, f"model {run}: published")
    return found
