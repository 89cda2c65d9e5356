"""Paired significance tests on per-item correctness. Pure functions of their inputs.

- McNemar's exact test when both runs have one binary outcome per item (greedy runs): it looks only at the
  discordant pairs and needs no sampling, so its p-value is exact and reproducible.
- A paired bootstrap over items when either run has several seeds: per-item scores are then fractions
  (share of seeds correct), which McNemar cannot take; resampling items keeps the pairing.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "SIGNIFICANCE_LEVEL",
    "PairedTest",
    "mcnemar_exact",
    "paired_bootstrap",
    "paired_test",
    "proportion_std_err",
]

SIGNIFICANCE_LEVEL = 0.05


def proportion_std_err(percent: float, n: int) -> float:
    """Std error (percent) of an accuracy over n items: sqrt(p(1-p)/(n-1)), the sample stderr of the items' 0/1
    outcomes (what metrics.py writes as accuracy_std_err and lm-evaluation-harness reports for acc); 0 for n < 2."""
    if n < 2:
        return 0.0
    p = min(max(percent / 100.0, 0.0), 1.0)
    return 100.0 * math.sqrt(p * (1.0 - p) / (n - 1))


def mcnemar_exact(only_baseline: int, only_model: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts.

    `only_baseline`: items the baseline got right and the model wrong; `only_model`: the reverse.
    Under the null each discordant pair is a fair coin: p = min(1, 2 * P(X <= min(b, c))), X ~ Binomial(b + c, 1/2).
    """
    if only_baseline < 0 or only_model < 0:
        raise ValueError(f"discordant counts must be >= 0, got {only_baseline} and {only_model}")
    n = only_baseline + only_model
    if n == 0:
        return 1.0
    k = min(only_baseline, only_model)
    tail = Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2**n)
    return float(min(Fraction(1), 2 * tail))


def paired_bootstrap(
    baseline: Sequence[float], model: Sequence[float], *, resamples: int = 2_000, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """Two-sided paired bootstrap over items: (p-value, 95% interval of the mean difference model - baseline).

    The p-value counts resampled differences, centred on the observed one, at least as far from 0 as the
    observed difference: p = (1 + #{|d* - d| >= |d|}) / (resamples + 1). Deterministic for a given `seed`.
    """
    if len(baseline) != len(model):
        raise ValueError(f"paired samples need equal lengths, got {len(baseline)} and {len(model)}")
    if not baseline:
        raise ValueError("paired bootstrap needs at least one item")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    diffs = [m - b for b, m in zip(baseline, model, strict=False)]
    n = len(diffs)
    observed = sum(diffs) / n
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(resamples))
    extreme = sum(1 for d in means if abs(d - observed) >= abs(observed) - 1e-12)
    p_value = 1.0 if observed == 0 else min(1.0, (1 + extreme) / (resamples + 1))
    low = means[int(0.025 * (resamples - 1))]
    high = means[math.ceil(0.975 * (resamples - 1))]
    return p_value, (low, high)


@dataclass(frozen=True)
class PairedTest:
    """A delta between two runs on the items they share, in percentage points, with its paired test."""

    test: str  # "mcnemar-exact" or "paired-bootstrap"
    num_paired: int
    baseline_score: float  # percent, on the paired items
    model_score: float
    delta: float  # model - baseline, percentage points
    p_value: float
    ci95: tuple[float, float] | None  # bootstrap interval of the delta (percentage points); None for McNemar
    only_baseline: int = 0  # McNemar discordant counts
    only_model: int = 0

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE_LEVEL


def paired_test(
    baseline: Mapping[str, Sequence[bool]],
    model: Mapping[str, Sequence[bool]],
    *,
    resamples: int = 2_000,
    seed: int = 0,
) -> PairedTest | None:
    """Compare per-item outcomes (item id -> one bool per seed). None when no item id is shared.

    Items with a single outcome on both sides use McNemar's exact test; otherwise each item's score is its share of
    correct seeds and the test is a paired bootstrap.
    """
    shared = sorted(i for i in baseline.keys() & model.keys() if baseline[i] and model[i])
    if not shared:
        return None
    base = [sum(baseline[i]) / len(baseline[i]) for i in shared]
    mod = [sum(model[i]) / len(model[i]) for i in shared]
    n = len(shared)
    base_score, model_score = 100 * sum(base) / n, 100 * sum(mod) / n
    if all(len(baseline[i]) == 1 and len(model[i]) == 1 for i in shared):
        only_b = sum(1 for b, m in zip(base, mod, strict=False) if b > m)
        only_m = sum(1 for b, m in zip(base, mod, strict=False) if m > b)
        p = mcnemar_exact(only_b, only_m)
        return PairedTest(
            "mcnemar-exact", n, base_score, model_score, model_score - base_score, p, None, only_b, only_m
        )
    p, (low, high) = paired_bootstrap(base, mod, resamples=resamples, seed=seed)
    return PairedTest(
        "paired-bootstrap", n, base_score, model_score, model_score - base_score, p, (100 * low, 100 * high)
    )
