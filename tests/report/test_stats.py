"""Paired significance tests against values computed by hand."""

from __future__ import annotations

import math

import pytest

from nemo_pipeline.report import mcnemar_exact, paired_bootstrap, paired_test

# (only baseline correct, only model correct, p) with p = min(1, 2 * sum_{i<=min} C(n, i) / 2^n), n = b + c.
MCNEMAR_CASES = [
    (0, 0, 1.0),  # no discordant pair: no evidence
    (5, 5, 1.0),  # balanced: 2 * P(X <= 5 | n=10) > 1, clipped
    (1, 9, 22 / 1024),  # 2 * (1 + 10) / 1024
    (9, 1, 22 / 1024),  # symmetric
    (2, 8, 112 / 1024),  # 2 * (1 + 10 + 45) / 1024
    (0, 6, 2 / 64),  # 2 * 1 / 64
    (0, 5, 2 / 32),  # 0.0625: five wins in a row is not significant at 0.05
    (3, 4, 1.0),  # 2 * (1 + 7 + 21 + 35) / 128 = 1
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("only_baseline", "only_model", "expected"), MCNEMAR_CASES)
def test_mcnemar_exact_matches_hand_computed_values(only_baseline: int, only_model: int, expected: float) -> None:
    assert mcnemar_exact(only_baseline, only_model) == pytest.approx(expected, rel=1e-12)


@pytest.mark.timeout(10)
def test_mcnemar_exact_handles_large_tables_without_overflow() -> None:
    p = mcnemar_exact(4000, 4200)  # 2^8200 does not fit a float; the exact fraction does
    assert 0.0 < p < 1.0
    assert mcnemar_exact(0, 2000) < 1e-300 or mcnemar_exact(0, 2000) == 0.0


@pytest.mark.timeout(10)
def test_mcnemar_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="discordant counts"):
        mcnemar_exact(-1, 3)


@pytest.mark.timeout(30)
def test_paired_bootstrap_no_difference_has_p_one() -> None:
    p, (low, high) = paired_bootstrap([1.0, 0.0, 1.0], [1.0, 0.0, 1.0], resamples=200)
    assert p == 1.0
    assert (low, high) == (0.0, 0.0)


@pytest.mark.timeout(30)
def test_paired_bootstrap_all_items_improved_has_smallest_p() -> None:
    # Every resample has mean difference 1, never as far from the observed 1 as 0 is: p = 1 / (B + 1).
    p, (low, high) = paired_bootstrap([0.0] * 20, [1.0] * 20, resamples=999)
    assert p == pytest.approx(1 / 1000)
    assert (low, high) == (1.0, 1.0)


@pytest.mark.timeout(30)
def test_paired_bootstrap_is_deterministic_and_sensible() -> None:
    baseline = [1.0 if i % 2 else 0.0 for i in range(100)]
    model = [1.0 if i % 2 or i % 10 == 0 else 0.0 for i in range(100)]  # 10 items flipped to correct
    first = paired_bootstrap(baseline, model, resamples=2000, seed=7)
    assert first == paired_bootstrap(baseline, model, resamples=2000, seed=7)
    p, (low, high) = first
    assert p < 0.05  # 10 wins, 0 losses
    assert 0.0 < low <= 0.10 <= high <= 0.2
    weak = [1.0 if i % 2 or i == 0 else 0.0 for i in range(100)]  # a single win
    assert paired_bootstrap(baseline, weak, resamples=2000)[0] > 0.05


@pytest.mark.timeout(10)
def test_paired_bootstrap_rejects_unpaired_input() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap([1.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="at least one item"):
        paired_bootstrap([], [])


@pytest.mark.timeout(10)
def test_paired_test_uses_mcnemar_for_single_samples_and_matches_by_id() -> None:
    baseline = {f"q{i}": [i < 5] for i in range(10)}  # q0..q4 right
    model = {f"q{i}": [i >= 4] for i in range(10)}  # q4..q9 right
    model["only-in-model"] = [True]  # no partner: ignored
    result = paired_test(baseline, model)
    assert result is not None
    assert result.test == "mcnemar-exact"
    assert result.num_paired == 10
    assert (result.only_baseline, result.only_model) == (4, 5)  # q0..q3 vs q5..q9
    assert result.baseline_score == pytest.approx(50.0)
    assert result.model_score == pytest.approx(60.0)
    assert result.delta == pytest.approx(10.0)
    assert result.p_value == pytest.approx(mcnemar_exact(4, 5)) and result.p_value == 1.0
    assert not result.significant and result.ci95 is None


@pytest.mark.timeout(30)
def test_paired_test_uses_bootstrap_with_seeds() -> None:
    baseline = {f"q{i}": [False, False, True, False] for i in range(30)}  # 25% per item
    model = {f"q{i}": [True, True, False, True] for i in range(30)}  # 75% per item
    result = paired_test(baseline, model, resamples=500)
    assert result is not None and result.test == "paired-bootstrap"
    assert result.delta == pytest.approx(50.0)
    assert result.significant and result.ci95 == (pytest.approx(50.0), pytest.approx(50.0))


@pytest.mark.timeout(10)
def test_paired_test_without_shared_ids_is_none() -> None:
    assert paired_test({"a": [True]}, {"b": [True]}) is None
    assert not math.isnan(paired_test({"a": [True]}, {"a": [True]}).p_value)  # type: ignore[union-attr]
