"""Grading throughput on GSM8K-style answers: our math grader (in process and through the 2-worker pool) beside
math-verify alone on the same (gold, generation) pairs. Prints answers per second and ratios.

    python benchmarks/grading_bench.py [--n 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import logging
import random
import time

from nemo_pipeline.evaluation import GRADERS, GraderContext, grade_all


def make_items(n: int, seed: int = 0) -> list[dict[str, str]]:
    """Generations in the few-shot style ("... The answer is N."), with separators, currency, units, wrong answers."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        gold = rng.randint(1, 250_000)
        shown = gold if rng.random() < 0.8 else gold + rng.randint(1, 9)
        style = i % 5
        if style == 0:
            answer = f"{shown}"
        elif style == 1:
            answer = f"{shown:,}"
        elif style == 2:
            answer = f"${shown}"
        elif style == 3:
            answer = f"{shown} dollars"
        else:
            answer = f"{shown}.00"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    items = make_items(args.n)
    grade = GRADERS.get("math")
    ctx = GraderContext()

    start = time.perf_counter()
    ours_inproc = sum(grade(item, ctx).correct for item in items)
    t_inproc = time.perf_counter() - start

    start = time.perf_counter()
    verdicts = grade_all("math", items, ctx, timeout_s=10.0, workers=args.workers)
    t_pool = time.perf_counter() - start
    ours_pool = sum(v.correct for v in verdicts)

    t_mv, mv_correct = bench_math_verify(items)
    n = len(items)
    print(f"pairs: {n} (GSM8K-style generations, 80% correct by construction)")
    print(f"ours, in process (1 core):           {n / t_inproc:9.1f} answers/s   correct {ours_inproc}")
    print(
        f"ours, grade_all pool ({args.workers} workers):     {n / t_pool:9.1f} answers/s   correct {ours_pool}"
        "   (includes worker start-up)"
    )
    print(f"math-verify alone, in process:       {n / t_mv:9.1f} answers/s   correct {mv_correct}")
    print(f"ratio ours in-process / math-verify: {t_mv / t_inproc:9.1f}x")
    print(f"ratio ours pool / math-verify:       {t_mv / t_pool:9.1f}x")


if __name__ == "__main__":
    main()
