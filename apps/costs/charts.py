"""Server-rendered SVG for the cost pages: no JavaScript, no inline styles (classes from
costs.css and presentation attributes only), every text escaped, every bar with a <title>
so hovering shows the exact figure.

- `stacked_daily`: daily cost stacked by model (the costliest models apart, the rest "other").
- `per_1k_line`: USD per 1,000 predictions per day (gaps where there was no traffic).
- `budget_burn`: cumulative month-to-date cost against the budget line, with the forecast
  to the end of the month as a dashed line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 600
HEIGHT = 250
LEFT = 56
RIGHT = 26
TOP = 18
BOTTOM = 52
SERIES_CLASSES = 6


def nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        candidate = step * 10 ** exponent
        if candidate >= value * 1.02:
            return candidate
    return 10 ** (exponent + 1)


def usd(value: float) -> str:
    if value >= 1000:
        return f"${value / 1000:.1f}k".replace(".0k", "k") if value < 100_000 else f"${value / 1000:.0f}k"
    if value >= 10:
        return f"${value:.0f}"
    if value >= 1:
        return f"${value:.2f}"
    return f"${value:.3f}".rstrip("0").rstrip(".") if value else "$0"


def tick_count(ymax: float) -> int:
    """How many gridline steps make round labels for a `nice_max` value (15k → 5 × 3k)."""
    if ymax <= 0:
        return 4
    lead = round(ymax / 10 ** math.floor(math.log10(ymax)), 2)
    return {1: 5, 1.5: 3, 2: 4, 2.5: 5, 3: 3, 4: 4, 5: 5, 6: 3, 8: 4, 10: 5}.get(lead, 4)


def _frame(ymax: float, *, fmt=usd, ticks: int | None = None) -> tuple[list[str], callable]:
    plot_h = HEIGHT - TOP - BOTTOM
    ticks = ticks or tick_count(ymax)

    def y(v: float) -> float:
        return TOP + plot_h - (v / ymax) * plot_h if ymax else TOP + plot_h

    parts = []
    for i in range(ticks + 1):
        value = ymax * i / ticks
        yy = y(value)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">{escape(fmt(value))}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>')
    return parts, y


def _x_labels(days: Sequence[date], x, *, every: int | None = None) -> list[str]:
    n = len(days)
    every = every or max(1, math.ceil(n / 8))
    out = []
    for i, d in enumerate(days):
        if i % every == 0 or i == n - 1 and n <= 8:
            out.append(f'<text class="tick" x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                       f'{d.strftime("%b %-d")}</text>')
    return out


def _svg(parts: list[str], label: str, *, height: int = HEIGHT) -> SafeString:
    body = "".join(parts)
    return mark_safe(f'<svg class="chart cost-chart" viewBox="0 0 {WIDTH} {height}" role="img" '  # noqa: S308 (escaped above)
                     f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">{body}</svg>')


def stacked_daily(days: Sequence[date], series: Sequence[tuple[str, Sequence[Decimal]]], *,
                  title: str = "Daily cost by model") -> SafeString:
    """Bars per day, one segment per model (bottom = costliest), with a legend under the plot."""
    if not days:
        return _svg([], title)
    totals = [sum(float(s[1][i]) for s in series) for i in range(len(days))]
    ymax = nice_max(max(totals) if totals else 0)
    parts, y = _frame(ymax)
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / len(days)
    bar = max(2.0, slot * 0.72)

    def x(i: int) -> float:
        return LEFT + slot * i + slot / 2

    for i, d in enumerate(days):
        base = 0.0
        for index, (name, values) in enumerate(series):
            value = float(values[i])
            if value <= 0:
                continue
            top, bottom = y(base + value), y(base)
            parts.append(f'<rect class="bar s{index % SERIES_CLASSES}" x="{x(i) - bar / 2:.1f}" y="{top:.1f}" '
                         f'width="{bar:.1f}" height="{max(bottom - top, 0.5):.1f}"><title>{escape(name)} · '
                         f'{d:%a %b %-d}: {escape(usd(value))}</title></rect>')
            base += value
        if totals[i] > 0:
            parts.append(f'<rect class="bar-hit" x="{x(i) - slot / 2:.1f}" y="{TOP}" width="{slot:.1f}" '
                         f'height="{HEIGHT - TOP - BOTTOM}"><title>{d:%a %b %-d}: {escape(usd(totals[i]))} in all'
                         '</title></rect>')
    parts += _x_labels(days, x)
    # Legend: swatch + name, left to right under the axis labels.
    lx = LEFT
    for index, (name, values) in enumerate(series):
        total = sum(float(v) for v in values)
        text = f"{name} {usd(total)}"
        parts.append(f'<rect class="swatch-rect s{index % SERIES_CLASSES}" x="{lx}" y="{HEIGHT - 18}" width="10" '
                     'height="10" rx="2"/>')
        parts.append(f'<text class="legend" x="{lx + 14}" y="{HEIGHT - 9}">{escape(text)}</text>')
        lx += 14 + 7 * len(text) + 16
    return _svg(parts, title + ": " + ", ".join(f"{n} {usd(sum(float(v) for v in vs))}" for n, vs in series))


def per_1k_line(points: Sequence[tuple[date, Decimal | None]], *,
                title: str = "USD per 1,000 predictions") -> SafeString:
    """One line; days without traffic are gaps (never zero, never infinity)."""
    values = [float(v) for _, v in points if v is not None]
    if not points:
        return _svg([], title)
    ymax = nice_max(max(values) if values else 0)
    parts, y = _frame(ymax, fmt=lambda v: f"${v:.3f}".rstrip("0").rstrip(".") if v < 1 else f"${v:.2f}")
    n = len(points)
    plot_w = WIDTH - LEFT - RIGHT

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    run: list[str] = []
    runs: list[list[str]] = []
    for i, (d, v) in enumerate(points):
        if v is None:
            if run:
                runs.append(run)
            run = []
            continue
        run.append(f"{x(i):.1f},{y(float(v)):.1f}")
        parts.append(f'<circle class="dot" cx="{x(i):.1f}" cy="{y(float(v)):.1f}" r="2.5"><title>{d:%a %b %-d}: '
                     f'${float(v):.4f} per 1,000</title></circle>')
    if run:
        runs.append(run)
    for r in runs:
        if len(r) > 1:
            parts.append(f'<polyline class="line line-per1k" points="{" ".join(r)}"/>')
    parts += _x_labels([d for d, _ in points], x)
    if not values:
        parts.append(f'<text class="legend" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">No traffic measured '
                     'in this range</text>')
    return _svg(parts, title)


def budget_burn(month: date, daily: dict[date, Decimal], *, budget: Decimal, forecast: Decimal, today: date,
                title: str = "Month to date against budget") -> SafeString:
    """Cumulative spend per day of the month, the budget line and the dashed forecast."""
    days_in_month = ((month.replace(day=28) + timedelta(days=4)).replace(day=1) - month).days
    cumulative: list[float] = []
    running = 0.0
    for i in range((today - month).days + 1):
        running += float(daily.get(month + timedelta(days=i), 0))
        cumulative.append(running)
    ymax = nice_max(max([float(budget), float(forecast), running, 0.0]))
    parts, y = _frame(ymax)
    plot_w = WIDTH - LEFT - RIGHT

    def x(i: float) -> float:
        return LEFT + plot_w * i / max(days_in_month - 1, 1)

    if budget > 0:
        by = y(float(budget))
        parts.append(f'<line class="budget-line" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{by:.1f}" y2="{by:.1f}"/>')
        parts.append(f'<text class="budget-label" x="{WIDTH - RIGHT - 4}" y="{by - 5:.1f}" text-anchor="end">Budget '
                     f'{escape(usd(float(budget)))}</text>')
    area = [f"{x(0):.1f},{y(0):.1f}"] + [f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(cumulative)] + \
        [f"{x(len(cumulative) - 1):.1f},{y(0):.1f}"]
    parts.append(f'<polygon class="burn-area" points="{" ".join(area)}"/>')
    parts.append(f'<polyline class="line line-burn" points="{" ".join(area[1:-1])}"/>')
    last = len(cumulative) - 1
    over = budget > 0 and forecast > budget
    parts.append(f'<line class="forecast-line{" over" if over else ""}" x1="{x(last):.1f}" y1="{y(running):.1f}" '
                 f'x2="{x(days_in_month - 1):.1f}" y2="{y(float(forecast)):.1f}"><title>Forecast for '
                 f'{month:%B}: {escape(usd(float(forecast)))}</title></line>')
    parts.append(f'<circle class="dot-now" cx="{x(last):.1f}" cy="{y(running):.1f}" r="4"><title>Spent so far: '
                 f'{escape(usd(running))}</title></circle>')
    parts.append(f'<text class="legend" x="{x(days_in_month - 1) - 4:.1f}" y="{y(float(forecast)) - 8:.1f}" '
                 f'text-anchor="end">Forecast {escape(usd(float(forecast)))}</text>')
    ticks = [0, 7, 14, 21, days_in_month - 1]
    for i in ticks:
        parts.append(f'<text class="tick" x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                     f'{(month + timedelta(days=i)):%b %-d}</text>')
    return _svg(parts, f"{title}: spent {usd(running)} of {usd(float(budget))}, forecast {usd(float(forecast))}")


def sparkline(values: Sequence[float], *, width: int = 220, height: int = 40) -> SafeString:
    """A small daily-cost trend for the model page panel."""
    if not values:
        return mark_safe("")
    top = max(values) or 1.0
    step = width / max(len(values) - 1, 1)
    points = " ".join(f"{i * step:.1f},{height - 3 - (v / top) * (height - 6):.1f}" for i, v in enumerate(values))
    # Presentation attributes, not CSS: the panel also renders on pages without costs.css.
    return mark_safe(f'<svg class="spark" viewBox="0 0 {width} {height}" width="180" height="36" role="img" '  # noqa: S308
                     f'aria-label="Daily cost, last {len(values)} days"><polyline class="line line-burn" '
                     f'fill="none" stroke="#3b5bdb" stroke-width="2" stroke-linejoin="round" points="{points}"/></svg>')
