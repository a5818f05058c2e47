"""Population Stability Index: buckets from a baseline sample, counts of new data, PSI, severity.

Pure NumPy, no Django: the drift service, the API and `benchmarks/psi.py` share it.

Buckets
-------
- Numeric feature: edges at the baseline's deciles (10 buckets by default) of its finite
  values. The first and last buckets are open-ended, so every finite value of any later
  sample falls in some bucket (the textbook `np.histogram(x, bins=edges)` silently drops
  values outside [edges[0], edges[-1]]). Bucket i holds `edges[i-1] <= x < edges[i]`.
  Missing values (None, NaN and, because JSON cannot carry them, ±inf) have their own
  bucket, the last one. A counts vector therefore has `len(edges) + 2` entries.
- Edges are "key-aligned": each quantile is moved down by at most 2**32 units in the last
  place (a relative change below 1e-6) to a double whose order-preserving 64-bit key has 32
  zero low bits. Then `x >= edge` is decided exactly by the high 32 bits of x's key, which
  lets `NumericBinner` compare 4-byte integers instead of 8-byte floats — the same buckets
  `np.searchsorted(edges, x, side="right")` gives, bit for bit, at half the memory traffic.
  Ties and repeated quantiles (a constant feature) collapse into fewer, unique edges.
- Categorical feature: one bucket per baseline category (the `MAX_CATEGORIES` most frequent),
  then "other" (categories the baseline never saw, or rarer ones), then missing.

PSI
---
    PSI = Σ_i (a_i − e_i) · ln(a_i / e_i)

with e_i the baseline share and a_i the current share of bucket i. An empty bucket would make
the logarithm infinite, so shares are smoothed: **a share of 0 is replaced by EPSILON = 1e-4**
(one in ten thousand; the value Evidently and most PSI write-ups use), without renormalising.
Smoothing only touches empty buckets, so identical distributions still give exactly 0, and a
bucket that empties completely contributes a large but finite term (≈ e·ln(e/1e-4)).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

EPSILON = 1e-4
DEFAULT_BUCKETS = 10
MAX_CATEGORIES = 50

# Severity thresholds (SPEC §5): none < 0.1 ≤ low < 0.2 ≤ medium ≤ 0.25 < high.
DEFAULT_THRESHOLDS = (0.1, 0.2, 0.25)
SEVERITIES = ("none", "low", "medium", "high")

_SIGN_MASK = np.int64(0x7FFFFFFFFFFFFFFF)
# High word of +inf: +inf and positive NaNs are at or above it (as signed integers).
_HIGH_KEY = np.int32(0x7FF00000)   # key_hi(+inf)
ROW_CHUNK = 255 * 16               # rows per step: bounds memory; a multiple of 255 for the byte-lane sums


def default_threads() -> int:
    """Threads for large matrices: SLIPWAY_PSI_THREADS, else the CPUs this process may use (≤ 4)."""
    configured = os.environ.get("SLIPWAY_PSI_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return min(int(configured), 16)
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(available, 4))


# --- keys ------------------------------------------------------------------------------

def _key_hi(values: np.ndarray) -> np.ndarray:
    """High 32 bits of the order-preserving int64 key of float64 values (floor of key / 2**32)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
    key = bits ^ ((bits >> 63) & _SIGN_MASK)
    return (key >> 32).astype(np.int32)


def _from_key_hi(hi: np.ndarray) -> np.ndarray:
    """The float64 whose key is `hi * 2**32`: the key-aligned value just at or below."""
    key = hi.astype(np.int64) << 32
    bits = key ^ ((key >> 63) & _SIGN_MASK)
    return bits.view(np.float64)


def align_edges(edges: np.ndarray) -> np.ndarray:
    """Move each edge down to a key-aligned double (≤ 2**32 ulps) and drop duplicates.

    +0.0 becomes the tiny negative double just below it, so that −0.0 (whose key is −1) is
    on the same side of the edge as +0.0, as a float comparison says it is.
    """
    finite = np.asarray(edges, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return np.empty(0, dtype=np.float64)
    hi = _key_hi(finite)
    hi[hi == 0] = -1
    return _from_key_hi(np.unique(hi))


# --- building buckets from a baseline ----------------------------------------------------

def numeric_edges(sample: np.ndarray, buckets: int = DEFAULT_BUCKETS) -> np.ndarray:
    """Inner bucket edges at the baseline's quantiles (len ≤ buckets − 1, sorted, unique)."""
    values = np.asarray(sample, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0 or buckets < 2:
        return np.empty(0, dtype=np.float64)
    quantiles = np.quantile(values, np.linspace(0.0, 1.0, buckets + 1)[1:-1])
    return align_edges(quantiles)


def numeric_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bucket: `len(edges) + 1` value buckets, then missing. One feature."""
    binner = NumericBinner([edges])
    column = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    return binner.counts(column)[0]


def categorical_categories(sample: Sequence, limit: int = MAX_CATEGORIES) -> list[str]:
    """The baseline's categories, most frequent first (ties by name), at most `limit`."""
    counter = Counter(str(v) for v in sample if v is not None)
    return [name for name, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def categorical_counts(values: Sequence, categories: Sequence[str]) -> np.ndarray:
    """Counts per bucket: one per category, then "other", then missing."""
    index = {name: i for i, name in enumerate(categories)}
    other, missing = len(categories), len(categories) + 1
    counts = np.zeros(len(categories) + 2, dtype=np.int64)
    for value, n in Counter(values).items():
        if value is None:
            counts[missing] += n
        else:
            counts[index.get(str(value), other)] += n
    return counts


# --- the fast path: many numeric features at once ------------------------------------------

class NumericBinner:
    """Bucket counts of many numeric features at once, for a rows × features float64 matrix.

    Edges are prepared once per baseline (per version). `counts(matrix)` walks the matrix in
    chunks of `ROW_CHUNK` rows (never copying it whole: a 1,000,000 × 200 float64 sample is
    1.6 GB), and for each chunk:

    1. copies the high 32-bit word of every value into a small buffer (one pass: the only time
       the 8-byte values are read);
    2. for each edge position k, compares those words of all columns against column-wise
       thresholds at once (one vectorised integer pass; signed for non-negative edges,
       unsigned for negative ones — see __init__), giving "x >= edge_k" as bytes;
    3. counts those bytes per column by adding whole rows as uint64 words: eight columns per
       word, each byte lane a counter that cannot overflow within 255 rows.

    Counts per bucket are differences of those "at least" counts. Two extra thresholds at
    ±inf separate missing values. The result is exactly `np.searchsorted(edges, x, "right")`
    bucketing plus a missing count, per column.
    """

    def __init__(self, edges: Sequence[np.ndarray]):
        self.edges = [np.asarray(e, dtype=np.float64) for e in edges]
        self.n_features = len(edges)
        self.n_edges = [len(e) for e in edges]
        width = max(self.n_edges, default=0)
        self.padded = -(-max(self.n_features, 1) // 8) * 8
        # Boundary k of column j as the raw high word of its (key-aligned) edge. Boundary 0 is
        # "> -inf", the last "≥ +inf"; columns with fewer edges repeat the +inf boundary (empty
        # buckets, dropped). A non-negative edge e is passed when the signed high word of x is
        # ≥ e's; a negative one when the unsigned high word of x is ≤ e's (negative doubles sort
        # in reverse as integers). Both are exact for key-aligned edges, so no per-value key
        # transform is needed: one integer compare per boundary.
        n_bounds = width + 2
        raw = np.full((n_bounds, self.n_features), _HIGH_KEY, dtype=np.int32)
        raw[0] = np.int32(-1048577)  # 0xFFEFFFFF: high word of -DBL_MAX (an unsigned boundary)
        for j, column_edges in enumerate(edges):
            if len(column_edges):
                bits = np.ascontiguousarray(column_edges, dtype=np.float64).view(np.int64)
                raw[1:1 + len(bits), j] = (bits >> 32).astype(np.int32)
        negative = raw < 0
        self.modes: list[str] = []
        self.signed = raw.copy()                                   # compare hi >= signed
        self.unsigned = raw.view(np.uint32).copy()                 # compare hu <= unsigned
        self.unsigned_below = np.zeros_like(self.unsigned)          # mixed: hu < unsigned_below
        for k in range(n_bounds):
            if negative[k].all():
                self.modes.append("unsigned")
            elif not negative[k].any():
                self.modes.append("signed")
            else:
                # (hi >= 0 or hu <= U) for negative edges, (hi >= H or hu < 0) for the others.
                self.modes.append("mixed")
                self.signed[k] = np.where(negative[k], 0, raw[k])
                self.unsigned_below[k] = np.where(negative[k], raw[k].view(np.uint32) + np.uint32(1), 0)

    def at_least(self, matrix: np.ndarray, *, chunk: int = ROW_CHUNK, threads: int | None = None) -> np.ndarray:
        """(boundaries × features) counts of values at or above each boundary.

        Large matrices are split into `threads` row ranges counted in parallel (NumPy releases
        the GIL inside each compare; every thread has its own small buffers). Default: the
        CPUs available, at most 4.
        """
        rows, features = matrix.shape
        if features != self.n_features:
            raise ValueError(f"expected {self.n_features} columns, got {features}")
        matrix = matrix if matrix.dtype == np.float64 else matrix.astype(np.float64)
        if matrix.strides[1] != 8:  # the high-word view below needs 8-byte steps along a row
            matrix = np.ascontiguousarray(matrix)
        chunk = max(255, chunk - chunk % 255)
        if threads is None:
            threads = default_threads()
        if threads > 1 and rows >= 8 * chunk:
            bounds = np.linspace(0, rows, threads + 1).astype(int)
            bounds[1:-1] -= bounds[1:-1] % chunk
            with ThreadPoolExecutor(threads) as pool:
                parts = list(pool.map(lambda ab: self._count(matrix, ab[0], ab[1], chunk),
                                      zip(bounds[:-1], bounds[1:], strict=True)))
            return sum(parts)[:, :features]
        return self._count(matrix, 0, rows, chunk)[:, :features]

    def _count(self, matrix: np.ndarray, first: int, stop: int, chunk: int) -> np.ndarray:
        features = matrix.shape[1]
        n_bounds, padded = len(self.modes), self.padded
        totals = np.zeros((n_bounds, padded), dtype=np.int64)
        high = np.empty((chunk, features), dtype=np.int32)
        flags = np.zeros((chunk, padded), dtype=np.bool_)  # padding columns stay False
        extra = np.empty((chunk, features), dtype=np.bool_)
        for start in range(first, stop, chunk):
            block = matrix[start:min(start + chunk, stop)]
            n = block.shape[0]
            hi = high[:n]
            np.copyto(hi, block.view(np.int32)[:, 1::2])  # the high words (little-endian: the second int32)
            hu = hi.view(np.uint32)
            flag, out = flags[:n], flags[:n, :features]
            full, rest = divmod(n, 255)
            words = flag.view(np.uint64)
            for k, mode in enumerate(self.modes):
                if mode == "signed":
                    np.greater_equal(hi, self.signed[k], out=out)
                elif mode == "unsigned":
                    np.less_equal(hu, self.unsigned[k], out=out)
                else:
                    np.greater_equal(hi, self.signed[k], out=out)
                    np.less(hu, self.unsigned_below[k], out=extra[:n])
                    np.logical_or(out, extra[:n], out=out)
                if full:
                    lanes = words[:full * 255].reshape(full, 255, padded // 8).sum(axis=1, dtype=np.uint64)
                    totals[k] += lanes.view(np.uint8).reshape(full, padded).sum(axis=0, dtype=np.int64)
                if rest:
                    totals[k] += flag[full * 255:].sum(axis=0, dtype=np.int64)
        return totals

    def counts(self, matrix: np.ndarray, *, chunk: int = ROW_CHUNK, threads: int | None = None,
               kernel: bool | None = None) -> list[np.ndarray]:
        """Per feature: counts of its `n_edges + 1` value buckets, then missing.

        Large matrices go through the compiled kernel (apps.drift.psi_kernel) when it is
        available; `kernel=False` forces this NumPy path (tests compare the two)."""
        from apps.drift import psi_kernel

        if kernel is None:
            kernel = matrix.size >= psi_kernel.KERNEL_MIN_VALUES
        if kernel and matrix.ndim == 2 and matrix.shape[1] == self.n_features and psi_kernel.available(self.edges):
            return psi_kernel.counts(matrix, self.edges, threads=threads or default_threads())
        rows = matrix.shape[0]
        ge = self.at_least(matrix, chunk=chunk, threads=threads)
        out = []
        for j, n_edges in enumerate(self.n_edges):
            column = ge[:n_edges + 2, j]
            buckets = column[:-1] - column[1:]              # between consecutive boundaries
            missing = (rows - column[0]) + column[-1]        # below "> -inf" or at/above +inf
            out.append(np.concatenate([buckets, [missing]]).astype(np.int64))
        return out


# --- PSI and severity -------------------------------------------------------------------

def shares(counts: np.ndarray, epsilon: float = EPSILON) -> np.ndarray:
    """Bucket shares with empty buckets raised to `epsilon` (see the module docstring)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return np.full(counts.shape, epsilon)
    return np.maximum(counts / total, epsilon)


def psi(expected: np.ndarray, actual: np.ndarray, epsilon: float = EPSILON) -> float:
    """PSI of `actual` counts against `expected` (baseline) counts over the same buckets."""
    expected, actual = np.asarray(expected), np.asarray(actual)
    if expected.shape != actual.shape:
        raise ValueError(f"bucket counts differ in length: {expected.shape} vs {actual.shape}")
    e, a = shares(expected, epsilon), shares(actual, epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_many(expected: Sequence[np.ndarray], actual: Sequence[np.ndarray], epsilon: float = EPSILON) -> np.ndarray:
    """PSI per feature for lists of count vectors (one pass over the few counts, not the data)."""
    return np.array([psi(e, a, epsilon) for e, a in zip(expected, actual, strict=True)], dtype=np.float64)


@dataclass(frozen=True)
class Thresholds:
    """PSI at or above `low` is low, at or above `medium` medium, above `high` high."""

    low: float = DEFAULT_THRESHOLDS[0]
    medium: float = DEFAULT_THRESHOLDS[1]
    high: float = DEFAULT_THRESHOLDS[2]


def severity(value: float | None, thresholds: Thresholds = Thresholds()) -> str:
    """none < low ≤ · < medium ≤ · ≤ high < high (SPEC §5: 0.25 itself is still medium)."""
    if value is None or not math.isfinite(value) or value < thresholds.low:
        return "none"
    if value < thresholds.medium:
        return "low"
    if value <= thresholds.high:
        return "medium"
    return "high"
