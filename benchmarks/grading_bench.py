"""Math grading: agreement and speed of our grader beside math-verify alone, measured in the same run.

Part 1, the answer-equivalence corpus (tests/evaluation/cases/math_equiv_families.jsonl, one `family` per case):
agreement with the expected verdicts overall and per family, and answers per second, for
- ours: the `math` grader's `is_equivalent` (design "ours_first": our parser and sympy decide, math-verify only
  where sympy cannot read an expression), and the alternative design "mv_first" (math-verify first wherever our
  conventions do not settle the pair);
- math-verify alone: `parse` + `verify` with defaults, on raw strings and with bare answers wrapped in `$...$`.
Part 2, GSM8K-style throughput: generations "... The answer is N." graded in process and through the worker pool.

    python benchmarks/grading_bench.py [--corpus PATH] [--n 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

from nemo_pipeline.evaluation import GRADERS, GraderContext, grade_all
from nemo_pipeline.evaluation._math.agreement import Case, design, load_cases, math_verify_alone, score

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "evaluation" / "cases" / "math_equiv_families.jsonl"


def corpus_report(cases: list[Case]) -> None:
    engines: dict[str, Callable[[Case], bool]] = {
        "ours": design("ours_first"),
        "mv_first": design("mv_first"),
        **{f"mv_{name}": engine for name, engine in math_verify_alone.items()},
    }
    mv_names = [f"mv_{name}" for name in math_verify_alone]
    for engine in engines.values():  # imports and first-call set-up are not timed
        for case in cases[:: max(1, len(cases) // 20)]:
            engine(case)
    seconds: dict[str, float] = {}
    for name, engine in engines.items():  # timed alone, one engine at a time, on every case
        start = time.perf_counter()
        for case in cases:
            engine(case)
        seconds[name] = time.perf_counter() - start
    table = score(cases, engines)
    n = len(cases)
    print(f"corpus: {n} cases, {sum(not c.expected for c in cases)} expected 'not equivalent'")
    print(f"{'family':18s} {'cases':>5s} " + " ".join(f"{name[:10]:>10s}" for name in engines) + "  ours-best_mv")
    for family in [*sorted(f for f in table if f != "ALL"), "ALL"]:
        entry = table[family]
        best_mv = max(entry.rate(name) for name in mv_names)
        rates = " ".join(f"{entry.rate(name):10.3f}" for name in engines)
        print(f"{family:18s} {entry.cases:5d} {rates}  {entry.rate('ours') - best_mv:+.3f}")
    rule = [c for c in cases if c.convention is None]
    entry = score(rule, {name: engines[name] for name in ("ours", *mv_names)})["ALL"]
    rates = ", ".join(f"{name} {entry.rate(name):.3f}" for name in ("ours", *mv_names))
    print(f"without the {n - len(rule)} convention-dependent cases: {rates}")
    for name in engines:
        print(f"speed {name:19s} {n / seconds[name]:9.1f} answers/s")
    for name in (*mv_names, "mv_first"):
        print(f"ratio ours / {name:19s} {seconds[name] / seconds['ours']:6.1f}x answers/s")


def make_items(n: int, seed: int = 0) -> list[dict[str, str]]:
    """Generations in the few-shot style ("... The answer is N."), with separators, currency, units, wrong answers."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        gold = rng.randint(1, 250_000)
        shown = gold if rng.random() < 0.8 else gold + rng.randint(1, 9)
        answer = [f"{shown}", f"{shown:,}", f"${shown}", f"{shown} dollars", f"{shown}.00"][i % 5]
        work = f"She buys {rng.randint(2, 9)} boxes at {rng.randint(3, 40)} each, so {rng.randint(10, 99)} in all. "
        items.append({"generation": work * 3 + f"The answer is {answer}.", "expected_answer": str(gold)})
    return items


def bench_math_verify(items: list[dict[str, str]]) -> tuple[float, int]:
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    start = time.perf_counter()
    correct = 0
    for item in items:
        gold = parse(f"${item['expected_answer']}$")
        pred = parse(item["generation"])
        correct += bool(verify(gold, pred))
    return time.perf_counter() - start, correct


def gsm8k_report(n: int, workers: int) -> None:
    items = make_items(n)
    grade = GRADERS.get("math")
    ctx = GraderContext()
    start = time.perf_counter()
    ours_inproc = sum(grade(item, ctx).correct for item in items)
    t_inproc = time.perf_counter() - start
    start = time.perf_counter()
    verdicts = grade_all("math", items, ctx, timeout_s=10.0, workers=workers)
    t_pool = time.perf_counter() - start
    ours_pool = sum(v.correct for v in verdicts)
    t_mv, mv_correct = bench_math_verify(items)
    print(f"gsm8k-style pairs: {n} (80% correct by construction)")
    print(f"ours, in process (1 core):           {n / t_inproc:9.1f} answers/s   correct {ours_inproc}")
    print(
        f"ours, grade_all pool ({workers} workers):     {n / t_pool:9.1f} answers/s   correct {ours_pool}"
        "   (includes worker start-up)"
    )
    print(f"math-verify alone, in process:       {n / t_mv:9.1f} answers/s   correct {mv_correct}")
    print(f"ratio ours in-process / math-verify: {t_mv / t_inproc:9.1f}x")
    print(f"ratio ours pool / math-verify:       {t_mv / t_pool:9.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--n", type=int, default=1000, help="GSM8K-style pairs for the throughput part (0: skip)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    corpus_report(load_cases(args.corpus))
    if args.n:
        gsm8k_report(args.n, args.workers)


if __name__ == "__main__":
    main()
