"""Fixtures: small, realistic output directories written from scratch (metrics.json + graded output files)."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

XSS_GENERATION = (
    "Let me think. </script><script>document.body.setAttribute('data-pwned','1')</script>"
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','2')\"> The answer is 7."
)


def _metrics_block(rows: Sequence[dict[str, Any]], num_seeds: int) -> dict[str, float]:
    """Metrics computed the straightforward way, enough for realistic fixtures."""
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_id.setdefault(row["id"], []).append(row)
    n = len(by_id)
    block: dict[str, float] = {
        "num_entries": n,
        "accuracy": 100 * sum(r["is_correct"] for r in rows) / len(rows),
        "no_answer": 100 * sum(r["predicted_answer"] is None for r in rows) / len(rows),
        "avg_tokens": sum(r["num_generated_tokens"] for r in rows) / len(rows),
        "sum_item_seconds": round(sum(r["generation_time_s"] for r in rows), 2),
    }
    if num_seeds:
        per_seed = [100 * sum(r["is_correct"] for r in rows if r["_seed"] == s) / n for s in range(num_seeds)]
        mean = sum(per_seed) / num_seeds
        var = sum((x - mean) ** 2 for x in per_seed) / max(num_seeds - 1, 1)
        block["pass@1"] = mean
        block["pass@1_std_err"] = math.sqrt(var / num_seeds)
        block[f"pass@{num_seeds}"] = 100 * sum(any(r["is_correct"] for r in v) for v in by_id.values()) / n
        block[f"majority@{num_seeds}"] = (
            100 * sum(sum(r["is_correct"] for r in v) * 2 > len(v) for v in by_id.values()) / n
        )
    return block


def write_run(
    root: Path,
    benchmark: str,
    correct: Mapping[str, Sequence[bool | None]],
    *,
    num_seeds: int = 0,
    subsets: dict[str, str] | None = None,
    model: str | None = None,
    write_metrics: bool = True,
    generations: dict[str, str] | None = None,
) -> Path:
    """Write `<root>/eval-results/<benchmark>/` with graded outputs.

    `correct[id][seed]` is True, False, or None (no answer extracted).
    """
    bench_dir = root / "eval-results" / benchmark
    bench_dir.mkdir(parents=True, exist_ok=True)
    if model is not None:
        (root / "run.json").write_text(json.dumps({"model": model, "benchmarks": [benchmark]}))
    rng = random.Random(f"{benchmark}{root.name}")
    rows: list[dict[str, Any]] = []
    seeds = list(range(num_seeds)) if num_seeds else [None]
    for s_index, seed in enumerate(seeds):
        name = "output.jsonl" if seed is None else f"output-rs{seed}.jsonl"
        with (bench_dir / name).open("w", encoding="utf-8") as handle:
            for item_id, outcomes in correct.items():
                outcome = outcomes[s_index]
                gold = str(int(item_id.split("-")[-1]) * 3)
                predicted = None if outcome is None else (gold if outcome else str(int(gold) + 1))
                row = {
                    "id": item_id,
                    "problem": f"Problem {item_id}: what is 3 times {item_id.split('-')[-1]}?",
                    "expected_answer": gold,
                    "generation": (generations or {}).get(item_id, f"3 times it is ... The answer is {predicted}."),
                    "num_generated_tokens": rng.randint(20, 200),
                    "generation_time_s": round(rng.uniform(0.1, 2.0), 3),
                    "predicted_answer": predicted,
                    "is_correct": bool(outcome),
                    "grading_reason": "" if outcome is not None else "no answer extracted",
                    "scores": {"strict": float(bool(outcome)), "loose": 1.0} if benchmark == "ifeval" else {},
                }
                if subsets:
                    row["subset"] = subsets[item_id]
                handle.write(json.dumps(row) + "\n")
                rows.append({**row, "_seed": seed})
    if write_metrics:
        metrics = {"all": _metrics_block(rows, num_seeds)}
        for sub in sorted(set((subsets or {}).values())):
            metrics[sub] = _metrics_block([r for r in rows if r.get("subset") == sub], num_seeds)
        payload = {"benchmark": benchmark, "num_seeds": num_seeds, "metrics": metrics}
        (bench_dir / "metrics.json").write_text(json.dumps(payload, indent=2))
    return root


@pytest.fixture
def make_run() -> Callable[..., Path]:
    return write_run
