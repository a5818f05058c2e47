"""Server-rendered SVG for the deployment pages: the rollout chart and the GPU quota bar.

SVG built here needs no JavaScript and no inline styles (only presentation attributes and
classes from deployments.css), so it works under a strict CSP and in the no-JS page tests.
Every number is formatted here; every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 720
PANEL_HEIGHT = 150
LEFT = 56
RIGHT = 196  # room for the threshold labels
TOP = 26
GAP = 44
BOTTOM = 30


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str
    kind: str  # "sla" (green) or "rollback" (red)


@dataclass(frozen=True)
class Series:
    name: str
    css: str
    points: list[tuple[float, float | None]]


def _num(value) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _nice_max(value: float) -> float:
    """An axis maximum ≥ value whose quarters are round numbers (4 grid steps)."""
    if value <= 0:
        return 1.0
    quarter = value / 4
    exponent = math.floor(math.log10(quarter))
    for step in (1, 2, 2.5, 3, 4, 5, 6, 8, 10):
        candidate = step * 10 ** exponent
        if candidate >= quarter:
            return 4 * candidate
    return 4 * 10 ** (exponent + 1)


def _polylines(series: Series, x, y) -> list[str]:
    """One polyline per run of known values: a gap in the data is a gap in the line."""
    runs: list[list[str]] = [[]]
    for t, v in series.points:
        if v is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(f"{x(t):.1f},{y(v):.1f}")
    out = []
    for run in runs:
        if len(run) == 1:
            cx, cy = run[0].split(",")
            out.append(f'<circle class="line-{series.css}" cx="{cx}" cy="{cy}" r="2.5"/>')
        elif run:
            out.append(f'<polyline class="line line-{series.css}" points="{" ".join(run)}"/>')
    return out


def _panel(*, title: str, unit: str, top: float, series: Sequence[Series], thresholds: Sequence[Threshold],
           markers: Sequence[tuple[float, str, str]], t_max: float, scale: float = 1.0) -> list[str]:
    """One panel: axes, grid, threshold lines with labels, the series and verdict markers."""
    values = [v for s in series for _, v in s.points if v is not None] + [th.value for th in thresholds]
    y_max = _nice_max(max(values) * 1.15 if values else 1.0)
    plot_w = WIDTH - LEFT - RIGHT
    bottom = top + PANEL_HEIGHT

    def x(t: float) -> float:
        return LEFT + (t / t_max) * plot_w if t_max > 0 else LEFT

    def y(v: float) -> float:
        return bottom - min(v, y_max) / y_max * PANEL_HEIGHT

    parts = [f'<text class="chart-title" x="{LEFT}" y="{top - 10}">{escape(title)}</text>']
    for i in range(5):
        value = y_max * i / 4
        gy = y(value)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{gy:.1f}" x2="{LEFT + plot_w}" y2="{gy:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end">'
                     f'{escape(_fmt(value * scale))}{escape(unit)}</text>')
    label_ys: list[float] = []
    for th in sorted(thresholds, key=lambda th: -th.value):
        ty = y(th.value)
        ly = ty + 4
        while any(abs(ly - other) < 12 for other in label_ys):
            ly += 12
        label_ys.append(ly)
        parts.append(f'<line class="threshold threshold-{th.kind}" x1="{LEFT}" y1="{ty:.1f}" '
                     f'x2="{LEFT + plot_w}" y2="{ty:.1f}"/>')
        parts.append(f'<text class="threshold-label threshold-label-{th.kind}" x="{LEFT + plot_w + 6}" '
                     f'y="{ly:.1f}">{escape(th.label)}</text>')
    for s in series:
        parts += _polylines(s, x, y)
    for t, verdict, title_text in markers:
        mx = x(t)
        parts.append(f'<line class="marker marker-{escape(verdict)}" x1="{mx:.1f}" y1="{top}" x2="{mx:.1f}" '
                     f'y2="{bottom}"><title>{escape(title_text)}</title></line>')
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{LEFT + plot_w}" y2="{bottom}"/>')
    return parts


def _seconds_label(seconds: float, span: float | None = None) -> str:
    """Elapsed time for the x axis; finer when the whole span is short (no repeated labels)."""
    span = seconds if span is None else span
    if span >= 3 * 3600:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    if span >= 600:
        return f"{seconds / 60:.0f} min"
    if span >= 180:
        return f"{seconds / 60:.1f} min".replace(".0 min", " min")
    if span >= 20:
        return f"{seconds:.0f} s"
    return f"{seconds:.1f} s".replace(".0 s", " s")


def rollout_chart(analyses: Iterable, *, sla_p99_ms: float, rollback_error_rate: float,
                  advance_max_error_rate: float, rollback_latency_ratio: float,
                  stable_p99_ms: float | None) -> SafeString:
    """Canary vs stable error rate and p99 over time, with the SLA and rollback thresholds.

    `analyses` are Analysis rows (any kind: continuous samples, step, smoke and guard
    analyses) in time order. Step/smoke/guard verdicts are drawn as vertical markers.
    """
    rows = list(analyses)
    if not rows:
        return mark_safe("")
    start = rows[0].created_at
    times = [(r.created_at - start).total_seconds() for r in rows]
    t_max = max(times[-1], 1.0)

    def points(attr: str, factor: float = 1.0) -> list[tuple[float, float | None]]:
        out = []
        for t, r in zip(times, rows, strict=True):
            value = _num(getattr(r, attr))
            out.append((t, None if value is None else value * factor))
        return out

    has_stable = any(_num(r.stable_error_rate) is not None or _num(r.stable_p99_ms) is not None for r in rows)
    error_series = [Series("canary", "canary", points("canary_error_rate", 100))]
    p99_series = [Series("canary", "canary", points("canary_p99_ms"))]
    if has_stable:
        error_series.insert(0, Series("stable", "stable", points("stable_error_rate", 100)))
        p99_series.insert(0, Series("stable", "stable", points("stable_p99_ms")))
    error_thresholds = [Threshold(rollback_error_rate * 100, f"rollback > {_fmt(rollback_error_rate * 100)} %",
                                  "rollback"),
                        Threshold(advance_max_error_rate * 100, f"advance < {_fmt(advance_max_error_rate * 100)} %",
                                  "sla")]
    if stable_p99_ms:
        latency_limit = rollback_latency_ratio * stable_p99_ms
        latency_label = f"rollback > {rollback_latency_ratio:g}× stable ({latency_limit:.0f} ms)"
    else:
        latency_limit = rollback_latency_ratio * sla_p99_ms
        latency_label = f"rollback > {rollback_latency_ratio:g}× SLA ({latency_limit:.0f} ms)"
    p99_thresholds = [Threshold(sla_p99_ms, f"SLA {sla_p99_ms:.0f} ms", "sla"),
                      Threshold(latency_limit, latency_label, "rollback")]
    markers = []
    for t, r in zip(times, rows, strict=True):
        if r.kind != "continuous" or r.verdict == "rollback":
            markers.append((t, r.verdict, f"{r.kind} analysis: {r.verdict} — {r.reason}"))

    height = TOP + PANEL_HEIGHT * 2 + GAP + BOTTOM
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-labelledby="chart-title chart-desc" preserveAspectRatio="xMidYMid meet">',
             '<title id="chart-title">Canary vs stable: error rate and p99 latency</title>',
             f'<desc id="chart-desc">{len(rows)} analyses over {escape(_seconds_label(t_max))}; dashed lines are '
             'the advance/SLA (green) and rollback (red) thresholds.</desc>']
    parts += _panel(title="Error rate", unit=" %", top=TOP, series=error_series, thresholds=error_thresholds,
                    markers=markers, t_max=t_max)
    second = TOP + PANEL_HEIGHT + GAP
    parts += _panel(title="p99 latency", unit=" ms", top=second, series=p99_series, thresholds=p99_thresholds,
                    markers=markers, t_max=t_max)
    axis_y = second + PANEL_HEIGHT + 18
    plot_w = WIDTH - LEFT - RIGHT
    for i in range(5):
        value = t_max * i / 4
        parts.append(f'<text class="tick" x="{LEFT + plot_w * i / 4:.1f}" y="{axis_y}" text-anchor="middle">'
                     f'{escape(_seconds_label(value, t_max))}</text>')
    legend = [("canary", "canary")] + ([("stable", "stable")] if has_stable else [])
    for i, (css, name) in enumerate(legend):
        ly = TOP - 10
        lx = LEFT + 110 + i * 90
        parts.append(f'<line class="line line-{css}" x1="{lx}" y1="{ly - 4}" x2="{lx + 22}" y2="{ly - 4}"/>')
        parts.append(f'<text class="legend" x="{lx + 28}" y="{ly}">{escape(name)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def quota_bar(*, quota: int, in_use: int, needed: int, fits: bool) -> SafeString:
    """The team's GPU quota as one bar: in use, this plan's peak, free."""
    total = max(quota, in_use + needed, 1)
    width, height = 520, 22

    def w(n: int) -> float:
        return width * n / total

    used_w, need_w = w(in_use), w(needed)
    quota_x = w(quota)
    parts = [f'<svg class="quota-bar" viewBox="0 0 {width} {height + 16}" role="img" '
             f'aria-label="{escape(f"{in_use} GPUs in use, {needed} needed, quota {quota}")}">',
             f'<rect class="qb-free" x="0" y="0" width="{width}" height="{height}" rx="4"/>']
    if used_w:
        parts.append(f'<rect class="qb-used" x="0" y="0" width="{used_w:.1f}" height="{height}" rx="4"/>')
    if need_w:
        parts.append(f'<rect class="{"qb-need" if fits else "qb-over"}" x="{used_w:.1f}" y="0" '
                     f'width="{need_w:.1f}" height="{height}"/>')
    parts.append(f'<line class="qb-quota" x1="{quota_x:.1f}" y1="-2" x2="{quota_x:.1f}" y2="{height + 2}"/>')
    anchor = "end" if quota_x > width - 40 else "middle"
    parts.append(f'<text class="qb-label" x="{min(quota_x, width - 1):.1f}" y="{height + 13}" '
                 f'text-anchor="{anchor}">quota {quota}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
