"""PSI math: hand-computed values, a straightforward reference on random data, the edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from apps.drift import psi as P


def reference_counts(values: np.ndarray, edges: np.ndarray) -> list[int]:
    """The obvious implementation: a Python loop over values, a linear scan over edges."""
    counts = [0] * (len(edges) + 2)
    for v in values:
        if not math.isfinite(v):
            counts[-1] += 1
            continue
        i = 0
        while i < len(edges) and v >= edges[i]:
            i += 1
        counts[i] += 1
    return counts


def reference_psi(expected: list[int], actual: list[int], eps: float = 1e-4) -> float:
    te, ta = sum(expected), sum(actual)
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        pe = max(e / te, eps)
        pa = max(a / ta, eps)
        total += (pa - pe) * math.log(pa / pe)
    return total


def test_psi_matches_a_hand_computed_value():
    # Baseline shares 0.5/0.3/0.2, current 0.3/0.3/0.4:
    # (0.3-0.5)·ln(0.3/0.5) + 0 + (0.4-0.2)·ln(0.4/0.2) = 0.2·ln(5/3) + 0.2·ln 2
    expected = 0.2 * math.log(5 / 3) + 0.2 * math.log(2)
    assert P.psi(np.array([50, 30, 20]), np.array([30, 30, 40])) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.240794, abs=1e-6)


def test_empty_bucket_is_smoothed_with_epsilon():
    # Current has nothing in the last bucket: its share becomes 1e-4, not 0 (no infinity).
    value = P.psi(np.array([50, 50]), np.array([100, 0]))
    by_hand = (1.0 - 0.5) * math.log(1.0 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert value == pytest.approx(by_hand, abs=1e-12)
    assert math.isfinite(value)


def test_identical_distributions_give_zero():
    rng = np.random.default_rng(3)
    data = rng.normal(size=5000)
    edges = P.numeric_edges(data)
    counts = P.numeric_counts(data, edges)
    assert P.psi(counts, counts) == 0.0
    assert P.psi(counts, counts * 7) == pytest.approx(0.0, abs=1e-15)  # same shares, more rows


@pytest.mark.parametrize("seed", range(8))
def test_psi_agrees_with_the_reference_on_random_data(seed):
    rng = np.random.default_rng(seed)
    base = rng.normal(rng.uniform(-100, 100), rng.uniform(0.01, 50), 3000)
    current = rng.normal(rng.uniform(-100, 100), rng.uniform(0.01, 50), 2500)
    current[rng.random(current.size) < 0.03] = np.nan
    edges = P.numeric_edges(base, int(rng.integers(2, 20)))
    ours_e, ours_a = P.numeric_counts(base, edges), P.numeric_counts(current, edges)
    ref_e, ref_a = reference_counts(base, edges), reference_counts(current, edges)
    assert ours_e.tolist() == ref_e and ours_a.tolist() == ref_a
    assert abs(P.psi(ours_e, ours_a) - reference_psi(ref_e, ref_a)) < 1e-9


def test_many_features_at_once_agree_with_per_feature_counts():
    rng = np.random.default_rng(5)
    base = rng.standard_normal((4000, 37)) * rng.uniform(0.1, 100, 37)
    current = rng.standard_normal((3001, 37)) * rng.uniform(0.1, 100, 37)  # not a multiple of 255 rows
    current[rng.random(current.shape) < 0.02] = np.nan
    current[0, :] = 0.0
    current[1, :] = -0.0
    edges = [P.numeric_edges(base[:, j]) for j in range(37)]
    for j in range(37):  # values exactly on an edge go to the bucket above it
        current[2:2 + len(edges[j]), j] = edges[j]
    binner = P.NumericBinner(edges)
    for chunk in (255, 1000, P.ROW_CHUNK):
        got = binner.counts(current, chunk=chunk)
        for j in range(37):
            assert got[j].tolist() == reference_counts(current[:, j], edges[j]), (chunk, j)
    threaded = binner.counts(current, chunk=255, threads=3)           # row ranges counted in parallel
    single = binner.counts(current, chunk=255, threads=1)
    assert all((a == b).all() for a, b in zip(threaded, single, strict=True))


def test_values_outside_the_baseline_range_are_counted():
    base = np.arange(100, dtype=float)                 # 0 … 99
    edges = P.numeric_edges(base)
    current = np.array([-1e9, -5.0, 50.0, 1e9, 1e300])
    counts = P.numeric_counts(current, edges)
    assert counts.sum() == 5                            # nothing dropped (np.histogram would drop 4)
    assert counts[0] == 2 and counts[-2] == 2 and counts[-1] == 0
    hist, _ = np.histogram(current, bins=np.concatenate([[0.0], edges, [99.0]]))
    assert hist.sum() == 1                              # the textbook loses the out-of-range values


def test_missing_values_have_their_own_bucket():
    base = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    edges = P.numeric_edges(base, 4)
    counts = P.numeric_counts(np.array([np.nan, np.nan, 2.5, np.inf, -np.inf]), edges)
    assert counts[-1] == 4                              # NaN and ±inf: missing (JSON carries neither inf)
    assert counts[:-1].sum() == 1
    baseline_counts = P.numeric_counts(base, edges)
    assert baseline_counts[-1] == 1
    # More missing values now than in the baseline is drift on its own.
    assert P.psi(baseline_counts, counts) > 0.25


def test_a_constant_feature_has_one_edge_and_no_drift_when_unchanged():
    base = np.full(1000, 3.0)
    edges = P.numeric_edges(base)
    assert len(edges) == 1                              # ten equal quantiles collapse to one edge
    counts = P.numeric_counts(np.full(10, 3.0), edges)
    assert counts.tolist() == [0, 10, 0]
    assert P.psi(P.numeric_counts(base, edges), counts) == 0.0
    moved = P.numeric_counts(np.full(10, 2.0), edges)
    assert moved.tolist() == [10, 0, 0]
    assert P.psi(P.numeric_counts(base, edges), moved) > 1


def test_edges_stay_within_a_millionth_of_the_quantiles():
    rng = np.random.default_rng(9)
    data = rng.lognormal(3, 2, 10_000)
    exact = np.quantile(data, np.linspace(0, 1, 11)[1:-1])
    aligned = P.numeric_edges(data)
    assert len(aligned) == 9
    assert np.all(np.abs(aligned - exact) <= np.abs(exact) * 1e-6)
    assert np.all(aligned <= exact)


def test_zero_edge_keeps_negative_zero_with_positive_zero():
    edges = P.align_edges(np.array([0.0]))
    counts = P.numeric_counts(np.array([-0.0, 0.0, -1e-320, 1e-320]), edges)
    assert counts.tolist() == reference_counts(np.array([-0.0, 0.0, -1e-320, 1e-320]), edges)
    # The aligned edge is the tiny negative double −2**-1042·…: both zeros and both subnormals sit above it.
    assert edges[0] < 0 and edges[0] > -1e-300
    assert counts[1] == 4


def test_categorical_with_a_new_category_goes_to_other():
    base = ["de"] * 50 + ["fr"] * 30 + ["us"] * 20
    categories = P.categorical_categories(base)
    assert categories == ["de", "fr", "us"]
    current = ["de"] * 40 + ["br"] * 40 + [None] * 20
    counts = P.categorical_counts(current, categories)
    assert counts.tolist() == [40, 0, 0, 40, 20]        # de, fr, us, other, missing
    value = P.psi(P.categorical_counts(base, categories), counts)
    assert value == pytest.approx(reference_psi([50, 30, 20, 0, 0], [40, 0, 0, 40, 20]), abs=1e-12)
    assert P.severity(value) == "high"


@pytest.mark.parametrize(("value", "expected"), [
    (0.0, "none"), (0.0999999, "none"), (0.1, "low"), (0.15, "low"), (0.1999999, "low"), (0.2, "medium"),
    (0.22, "medium"), (0.25, "medium"), (0.2500001, "high"), (3.0, "high"), (float("nan"), "none"),
])
def test_severity_boundaries(value, expected):
    assert P.severity(value) == expected


def test_severity_uses_the_models_thresholds():
    strict = P.Thresholds(0.05, 0.08, 0.12)
    assert P.severity(0.05, strict) == "low"
    assert P.severity(0.08, strict) == "medium"
    assert P.severity(0.12, strict) == "medium"
    assert P.severity(0.1201, strict) == "high"
