"""The SVG charts: deterministic, exact coordinates, every series drawn, Chinese text kept."""

from __future__ import annotations

from decimal import Decimal

from ledger.entrypoints.charts import Band, Chart, Rule, Series, render
from tests.console.helpers import drawn

D = Decimal


def _chart() -> Chart:
    return Chart("开封市 统筹基金", ["01", "02", "03"],
                 [Series("基金", [D("100.00"), D("2000.00"), None]),
                  Series("累计", [D(100), D(2100), D(2100)], "line")],
                 rules=[Rule(D("3000.00"), "预算")], bands=[Band(D(0), D(2100), "0%–70%")])


def test_same_figures_give_the_same_bytes():
    assert render(_chart()) == render(_chart())


def test_axis_is_rounded_and_values_placed_exactly():
    svg = render(_chart())
    # Axis 0..3,000 in ticks of 1,000 (the budget line is the top); plot from y=34 to y=254 (220 px).
    assert '>3,000</text>' in svg and '>3,500</text>' not in svg
    # 2,000 of 3,000 is two thirds of 220 px above the baseline: 254 - 146.7 = 107.3.
    assert 'y="107.3"' in svg
    # The budget line at 3,000 is the top of the plot.
    assert 'class="rule" x1="78" x2="600" y1="34"' in svg


def test_every_series_is_drawn_and_a_missing_value_leaves_a_gap():
    svg = render(_chart())
    assert drawn(svg) == 3  # two bars (one value missing) and one line
    assert "<title>基金 03" not in svg
    assert "开封市 统筹基金" in svg and "预算" in svg


def test_step_chart_holds_each_value_across_its_slot():
    svg = render(Chart("余额", ["a", "b"], [Series("余额", [D(10), D(5)], "step")]))
    points = svg.split('points="')[1].split('"')[0].split()
    assert len(points) == 4
    assert points[1].split(",")[1] == points[0].split(",")[1]  # flat across slot a
    assert points[2].split(",")[0] == points[1].split(",")[0]  # falls at the edge


def test_negative_values_extend_the_axis_below_zero():
    svg = render(Chart("差额", ["x"], [Series("d", [D("-250.00")])]))
    assert ">-250</text>" in svg and ">0</text>" in svg


def test_a_chart_without_values_says_so():
    svg = render(Chart("空", ["01"], [Series("s", [None])]))
    assert "no data" in svg and svg.startswith("<svg")
