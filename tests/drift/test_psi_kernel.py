"""The compiled bucket counter gives exactly the NumPy binner's counts (it is only faster)."""

from __future__ import annotations

import numpy as np
import pytest

from apps.drift import psi, psi_kernel


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kernel_and_numpy_paths_agree_exactly(seed):
    rng = np.random.default_rng(seed)
    baseline = rng.normal(size=(20_000, 24))
    baseline[:, 4] = 3.0                        # a constant feature: one edge
    baseline[:, 6] = rng.integers(0, 3, 20_000)  # few distinct values: merged edges
    current = rng.normal(size=(50_000, 24)) * 1.4 + 0.3
    current[::97, 3] = np.nan
    current[::101, 5] = np.inf
    current[::103, 7] = -np.inf
    current[::11, 9] = -0.0
    current[::13, 10] = 0.0
    edges = [psi.numeric_edges(baseline[:, j]) for j in range(24)]
    current[::7, 8] = edges[8][3]               # values exactly on an edge
    binner = psi.NumericBinner(edges)
    compiled = binner.counts(current, kernel=True)
    plain = binner.counts(current, kernel=False)
    assert all(np.array_equal(a, b) for a, b in zip(compiled, plain, strict=True))
    assert [int(c[-1]) for c in compiled][3] == len(range(0, 50_000, 97))  # NaN is missing
    assert all(int(c.sum()) == 50_000 for c in compiled)


def test_kernel_threads_do_not_change_counts():
    rng = np.random.default_rng(7)
    edges = [psi.numeric_edges(rng.normal(size=5_000)) for _ in range(5)]
    current = rng.normal(size=(30_001, 5))
    one = psi_kernel.counts(current, edges, threads=1)
    many = psi_kernel.counts(current, edges, threads=3)
    assert all(np.array_equal(a, b) for a, b in zip(one, many, strict=True))


def test_more_edges_than_the_kernel_handles_use_the_numpy_path():
    rng = np.random.default_rng(9)
    edges = [psi.numeric_edges(rng.normal(size=5_000), buckets=30)]
    assert len(edges[0]) > psi_kernel.MAX_EDGES and not psi_kernel.available(edges)
    binner = psi.NumericBinner(edges)
    current = rng.normal(size=(1_000, 1))
    assert np.array_equal(binner.counts(current, kernel=True)[0], binner.counts(current, kernel=False)[0])
