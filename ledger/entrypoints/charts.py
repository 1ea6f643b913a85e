"""Charts as inline SVG, drawn on the server so a page or a report file needs nothing else.

Three kinds are enough for the console: bars, lines and steps over a row of labels (months,
or the dates of an account's movements), with horizontal reference lines (a budget) and
shaded horizontal bands (Kaifeng 三（三）'s usage tiers). Every coordinate is computed in
Decimal and written with one decimal place, so the same figures give byte-identical SVG and
no amount passes through a float. Text takes the page's font stack, which covers Chinese.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from html import escape
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

FONTS = "'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei','PingFang SC',sans-serif"
"""A font stack that covers CJK on Linux, Windows and macOS."""

PALETTE = ("#2f6db5", "#e07b28", "#3a9a5b", "#b83b5e", "#7a5cb8", "#8c6d3f")
BAND_FILLS = ("#f3f3f3", "#e6f2e6", "#cfe8cf", "#fdebd0", "#f8d0cc")

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 78, 120, 34, 46
TICKS = 5
ONE_PLACE = Decimal("0.1")
BAND_LABEL_ROOM = 14
"""A band narrower than this (in pixels) is drawn without its label, which would overlap its neighbours'."""


@dataclass(frozen=True)
class Series:
    """One row of values, one per label; ``None`` where there is none."""

    name: str
    values: Sequence[Decimal | int | None]
    kind: Literal["bar", "line", "step"] = "bar"


@dataclass(frozen=True)
class Rule:
    """A horizontal reference line, such as the budget."""

    value: Decimal
    label: str


@dataclass(frozen=True)
class Band:
    """A shaded horizontal range, such as a usage tier."""

    low: Decimal
    high: Decimal
    label: str


@dataclass(frozen=True)
class Chart:
    """What to draw: labels along the bottom, series, reference lines and bands."""

    title: str
    labels: Sequence[str]
    series: Sequence[Series]
    rules: Sequence[Rule] = ()
    bands: Sequence[Band] = ()
    unit: str = "元"
    label_every: int = 1


def _n(value: Decimal) -> str:
    """A coordinate with one decimal place, without a trailing ``.0``."""
    text = str(value.quantize(ONE_PLACE, rounding=ROUND_HALF_UP))
    return text[:-2] if text.endswith(".0") else text


def _nice_step(top: Decimal) -> Decimal:
    """The smallest round tick (1, 2, 2.5 or 5 × 10ⁿ) that reaches ``top`` in at most ``TICKS`` ticks."""
    if top <= 0:
        return Decimal(1)
    step = top / TICKS
    base = Decimal(1).scaleb(step.adjusted())
    return next(m * base for m in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))
                if m * base >= step)


def _axis(low: Decimal, high: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """The axis's bottom, top and tick: round numbers holding ``low`` (at most 0) and ``high``."""
    step = _nice_step(max(high, -low))
    top = (high / step).to_integral_value(rounding=ROUND_CEILING) * step if high > 0 else step
    bottom = (low / step).to_integral_value(rounding=ROUND_FLOOR) * step if low < 0 else Decimal(0)
    return bottom, top, step


def _tick_text(value: Decimal) -> str:
    whole = value.to_integral_value(rounding=ROUND_HALF_UP)
    return f"{int(whole):,}" if whole == value else f"{value:,.2f}"


def render(chart: Chart) -> str:
    """The chart as an ``<svg>`` element (deterministic: same chart, same bytes)."""
    values = [Decimal(v) for s in chart.series for v in s.values if v is not None]
    tops = [*values, *(r.value for r in chart.rules)]
    bottom, top, step = _axis(min(values, default=Decimal(0)), max(tops, default=Decimal(0)))
    plot_w, plot_h = Decimal(WIDTH - LEFT - RIGHT), Decimal(HEIGHT - TOP - BOTTOM)
    count = max(len(chart.labels), 1)
    slot = plot_w / count

    def y(v: Decimal | int) -> Decimal:
        return Decimal(TOP) + plot_h * (top - Decimal(v)) / (top - bottom)

    def x(i: int) -> Decimal:
        return Decimal(LEFT) + slot * i + slot / 2

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
           f'height="{HEIGHT}" role="img" aria-label="{escape(chart.title)}" class="chart" '
           f'font-family="{escape(FONTS)}" font-size="11">',
           f"<title>{escape(chart.title)}</title>",
           f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold">{escape(chart.title)}</text>']
    for i, band in enumerate(chart.bands):
        high, low = min(band.high, top), max(band.low, bottom)
        if high <= low:
            continue
        out.append(f'<rect class="band" x="{LEFT}" y="{_n(y(high))}" width="{_n(plot_w)}" '
                   f'height="{_n(y(low) - y(high))}" fill="{BAND_FILLS[i % len(BAND_FILLS)]}"/>')
        if y(low) - y(high) >= BAND_LABEL_ROOM:
            out.append(f'<text x="{WIDTH - RIGHT + 6}" y="{_n((y(high) + y(low)) / 2 + 4)}" fill="#555">'
                       f"{escape(band.label)}</text>")
    value = bottom
    while value <= top:
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_n(y(value))}" y2="{_n(y(value))}" '
                   f'stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{_n(y(value) + 4)}" text-anchor="end">{_tick_text(value)}</text>')
        value += step
    out.append(f'<text x="{LEFT - 6}" y="{TOP - 8}" text-anchor="end" fill="#555">{escape(chart.unit)}</text>')
    for i, label in enumerate(chart.labels):
        if i % max(chart.label_every, 1) == 0 or i == len(chart.labels) - 1:
            out.append(f'<text x="{_n(x(i))}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{escape(label)}</text>')
    out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_n(y(0))}" y2="{_n(y(0))}" stroke="#333"/>')
    bars = [s for s in chart.series if s.kind == "bar"]
    width = slot * Decimal("0.8") / max(len(bars), 1)
    for j, s in enumerate(chart.series):
        colour = PALETTE[j % len(PALETTE)]
        if s.kind == "bar":
            k = bars.index(s)
            for i, v in enumerate(s.values):
                if v is None:
                    continue
                left = Decimal(LEFT) + slot * i + slot * Decimal("0.1") + width * k
                y0, y1 = sorted((y(v), y(0)))
                out.append(f'<rect class="bar" x="{_n(left)}" y="{_n(y0)}" width="{_n(width)}" '
                           f'height="{_n(y1 - y0)}" fill="{colour}"><title>{escape(s.name)} '
                           f"{escape(chart.labels[i])}: {v}</title></rect>")
        else:
            out.append(_path(s, x, y, slot, colour))
    for r in chart.rules:
        out.append(f'<line class="rule" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_n(y(r.value))}" '
                   f'y2="{_n(y(r.value))}" stroke="#c0392b" stroke-dasharray="6 4" stroke-width="1.5"/>')
        out.append(f'<text x="{LEFT + 4}" y="{_n(y(r.value) - 4)}" fill="#c0392b">{escape(r.label)}</text>')
    legend_x = LEFT
    for j, s in enumerate(chart.series):
        colour = PALETTE[j % len(PALETTE)]
        out.append(f'<rect x="{legend_x}" y="{HEIGHT - 18}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{legend_x + 14}" y="{HEIGHT - 9}">{escape(s.name)}</text>')
        legend_x += 24 + 12 * len(s.name)
    if not values:
        out.append(f'<text x="{_n(Decimal(LEFT) + plot_w / 2)}" y="{_n(Decimal(TOP) + plot_h / 2)}" '
                   f'text-anchor="middle" fill="#888">无数据 no data</text>')
    out.append("</svg>")
    return "\n".join(out)


def _path(s: Series, x: Callable[[int], Decimal], y: Callable[[Decimal | int], Decimal], slot: Decimal,
          colour: str) -> str:
    """A line through the points, or steps that hold each value across its slot (rising or falling at the edge)."""
    points: list[str] = []
    for i, v in enumerate(s.values):
        if v is None:
            continue
        if s.kind == "step":
            points += [f"{_n(x(i) - slot / 2)},{_n(y(v))}", f"{_n(x(i) + slot / 2)},{_n(y(v))}"]
        else:
            points.append(f"{_n(x(i))},{_n(y(v))}")
    return (f'<polyline class="{s.kind}" fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{" ".join(points)}"><title>{escape(s.name)}</title></polyline>')
