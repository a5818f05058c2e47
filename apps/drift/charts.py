"""Server-rendered SVG for the drift pages: PSI heatmap, baseline-vs-current histograms, severity timeline.

No JavaScript and no inline styles: presentation attributes and classes from drift.css only,
so the charts work under a strict CSP and in the no-JS page tests. Every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from apps.drift.psi import Thresholds, severity


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}f}"


def _short(text: str, length: int = 22) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def heatmap(features: Sequence[str], columns: Sequence[dict], thresholds: Thresholds) -> SafeString:
    """Features (rows) × reports (columns, oldest left): each cell's class is its PSI severity.

    `columns` items: {"label": short time, "title": full time, "psi": {feature: value}}.
    """
    if not features or not columns:
        return mark_safe("")
    left, top, cell_w, cell_h, gap = 170, 4, max(14, min(40, 720 // max(len(columns), 1))), 22, 2
    width = left + len(columns) * cell_w + 90
    height = top + len(features) * cell_h + 34
    parts = [f'<svg class="chart heatmap" viewBox="0 0 {width} {height}" role="img" '
             f'aria-labelledby="hm-title hm-desc" preserveAspectRatio="xMinYMin meet">',
             '<title id="hm-title">PSI per feature over time</title>',
             f'<desc id="hm-desc">{len(features)} features × {len(columns)} reports; colour = severity '
             f'(low ≥ {thresholds.low:g}, medium ≥ {thresholds.medium:g}, high &gt; {thresholds.high:g}).</desc>']
    for i, name in enumerate(features):
        y = top + i * cell_h
        parts.append(f'<text class="hm-label" x="{left - 8}" y="{y + cell_h / 2 + 4:.1f}" text-anchor="end">'
                     f'{escape(_short(name))}<title>{escape(name)}</title></text>')
        for c, column in enumerate(columns):
            value = column["psi"].get(name)
            level = "missing" if value is None else severity(value, thresholds)
            x = left + c * cell_w
            parts.append(f'<rect class="hm-cell hm-{level}" x="{x}" y="{y}" width="{cell_w - gap}" '
                         f'height="{cell_h - gap}" rx="2"><title>{escape(name)} · {escape(column["title"])}: '
                         f'PSI {_fmt(value)} ({level})</title></rect>')
            if cell_w >= 34 and value is not None:
                parts.append(f'<text class="hm-value hm-value-{level}" x="{x + (cell_w - gap) / 2:.1f}" '
                             f'y="{y + cell_h / 2 + 3.5:.1f}" text-anchor="middle">{_fmt(value, 2)}</text>')
    label_every = max(1, math.ceil(len(columns) / 8))
    base_y = top + len(features) * cell_h + 14
    last = len(columns) - 1
    for c, column in enumerate(columns):
        # Every n-th time, and the newest unless it would sit on top of the one before.
        if c % label_every == 0 or (c == last and last % label_every >= max(2, label_every // 2)):
            parts.append(f'<text class="tick" x="{left + c * cell_w + (cell_w - gap) / 2:.1f}" y="{base_y}" '
                         f'text-anchor="middle">{escape(column["label"])}</text>')
    legend_x = left + len(columns) * cell_w + 14
    for i, (level, text) in enumerate((("none", "none"), ("low", "low"), ("medium", "medium"), ("high", "high"))):
        y = top + i * 18
        parts.append(f'<rect class="hm-cell hm-{level}" x="{legend_x}" y="{y}" width="12" height="12" rx="2"/>')
        parts.append(f'<text class="legend" x="{legend_x + 18}" y="{y + 10}">{text}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def bucket_labels(spec: dict) -> list[str]:
    """Readable bucket names: '< 1.2', '1.2 – 3.4', '≥ 9.9', categories, 'other', 'missing'."""
    if spec["kind"] == "numeric":
        edges = spec["edges"]
        if not edges:
            return ["all values", "missing"]
        labels = [f"< {edges[0]:.3g}"]
        labels += [f"{a:.3g} – {b:.3g}" for a, b in zip(edges, edges[1:], strict=False)]
        labels.append(f"≥ {edges[-1]:.3g}")
        return labels + ["missing"]
    return list(spec["categories"]) + ["other", "missing"]


def histograms(labels: Sequence[str], baseline: Sequence[int], current: Sequence[int]) -> SafeString:
    """Baseline vs current share of each bucket, side by side. Empty trailing buckets are shown
    only when either sample has values there (e.g. no 'missing' bar when nothing is missing)."""
    total_b, total_c = max(sum(baseline), 1), max(sum(current), 1)
    rows = [(label, b / total_b, c / total_c) for label, b, c in zip(labels, baseline, current, strict=True)
            if b or c or label not in ("missing", "other")]
    if not rows:
        return mark_safe("")
    width, height, left, bottom, top = 440, 170, 34, 48, 10
    plot_w, plot_h = width - left - 6, height - top - bottom
    peak = max(max(b, c) for _, b, c in rows) or 1.0
    group = plot_w / len(rows)
    bar = max(2.0, min(16.0, group / 2 - 2))
    parts = [f'<svg class="chart histogram" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Baseline versus current share per bucket">']
    for i in range(3):
        value = peak * i / 2
        y = top + plot_h - value / peak * plot_h
        parts.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - 6}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{left - 4}" y="{y + 3:.1f}" text-anchor="end">{value * 100:.0f}%</text>')
    for i, (label, b, c) in enumerate(rows):
        x0 = left + i * group + group / 2 - bar
        for offset, share, css, name in ((0, b, "hist-baseline", "baseline"), (bar, c, "hist-current", "current")):
            h = share / peak * plot_h
            parts.append(f'<rect class="{css}" x="{x0 + offset:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}"><title>{escape(label)}: {name} {share * 100:.1f}%</title></rect>')
        parts.append(f'<text class="tick tick-rot" x="{x0 + bar:.1f}" y="{top + plot_h + 10}" text-anchor="end" '
                     f'transform="rotate(-35 {x0 + bar:.1f} {top + plot_h + 10})">{escape(_short(label, 14))}</text>')
    parts.append(f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - 6}" y2="{top + plot_h}"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def timeline(points: Sequence[dict], thresholds: Thresholds) -> SafeString:
    """Max PSI per report over time (oldest left), dots coloured by severity, threshold lines.

    `points` items: {"label", "title", "value", "severity", "acted": bool}.
    """
    if not points:
        return mark_safe("")
    width, height, left, right, top, bottom = 720, 190, 46, 110, 12, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([p["value"] for p in points] + [thresholds.high * 1.3])
    step = plot_w / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return left + (i * step if len(points) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - min(v, peak) / peak * plot_h

    parts = [f'<svg class="chart timeline" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Severity timeline: maximum PSI per report">']
    label_ys: list[float] = []
    for value, label, kind in ((thresholds.high, f"high > {thresholds.high:g}", "high"),
                               (thresholds.medium, f"medium ≥ {thresholds.medium:g}", "medium"),
                               (thresholds.low, f"low ≥ {thresholds.low:g}", "low")):
        parts.append(f'<line class="threshold threshold-{kind}" x1="{left}" y1="{y(value):.1f}" '
                     f'x2="{left + plot_w}" y2="{y(value):.1f}"/>')
        ly = y(value) + 4
        while any(abs(ly - other) < 12 for other in label_ys):
            ly += 12  # close thresholds: stack their labels instead of overprinting them
        label_ys.append(ly)
        parts.append(f'<text class="threshold-label" x="{left + plot_w + 6}" y="{ly:.1f}">{escape(label)}</text>')
    if len(points) > 1:
        path = " ".join(f"{x(i):.1f},{y(p['value']):.1f}" for i, p in enumerate(points))
        parts.append(f'<polyline class="line line-psi" points="{path}"/>')
    for i, p in enumerate(points):
        radius = 5.5 if p.get("acted") else 4
        parts.append(f'<circle class="dot dot-{escape(p["severity"])}" cx="{x(i):.1f}" cy="{y(p["value"]):.1f}" '
                     f'r="{radius}"><title>{escape(p["title"])}: max PSI {_fmt(p["value"])} '
                     f'({escape(p["severity"])})</title></circle>')
    label_every = max(1, math.ceil(len(points) / 8))
    last = len(points) - 1
    for i, p in enumerate(points):
        if i % label_every == 0 or (i == last and last % label_every >= max(2, label_every // 2)):
            parts.append(f'<text class="tick" x="{x(i):.1f}" y="{height - 8}" text-anchor="middle">'
                         f'{escape(p["label"])}</text>')
    parts.append(f'<text class="tick" x="{left - 6}" y="{y(0) + 3:.1f}" text-anchor="end">0</text>')
    parts.append(f'<text class="tick" x="{left - 6}" y="{y(peak) + 8:.1f}" text-anchor="end">{peak:.2f}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
