"""What the console's pages and the report draw: Jinja2 templates and the charts of each page.

The page data come from ``ledger.services.console_queries``; this module turns them into
charts and HTML, and nothing else, so the report file and the console show the same things.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ledger.entrypoints.charts import Band, Chart, Rule, Series, render
from ledger.services import console_queries

if TYPE_CHECKING:
    from ledger.services.application import OutpatientPooling
    from ledger.services.audit import AuditReport

TEMPLATES = Path(__file__).parent / "templates"
MONTHS = [f"{m:02d}" for m in range(1, 13)]


def money(value: Decimal | int | None) -> str:
    """An amount with two decimals, or a dash."""
    if value is None:
        return "–"
    return f"{Decimal(value):.2f}"


def percent(value: Decimal | str | None) -> str:
    """A rate as a percentage with two decimals."""
    if value is None:
        return "–"
    return f"{Decimal(value) * 100:.2f}%"


def plain(value: Any) -> str:
    """A parameter's value as a person reads it: lists joined, maps as name and value."""
    if isinstance(value, (list, tuple)):
        return ", ".join(plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {plain(v)}" for k, v in value.items())
    return str(value)


def environment() -> Environment:
    """The templates with the console's filters (autoescaped)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = money
    env.filters["percent"] = percent
    env.filters["plain"] = plain
    return env


ENV = environment()


def page(template: str, **context: Any) -> str:
    """A rendered template."""
    return ENV.get_template(template).render(**context)


def _by_month(rows: list[dict[str, Any]], key: str, year: int) -> list[Decimal | None]:
    found = {r["month"]: r[key] for r in rows}
    return [found.get(f"{year:04d}-{m}") for m in MONTHS]


def region_charts(overview: dict[str, Any]) -> dict[str, str]:
    """The fund paid per month against the monthly budget, and the year's running total in the usage bands."""
    year, months = overview["year"], overview["months"]
    rules = [Rule(overview["monthly_budget"], "月预算")] if overview["monthly_budget"] is not None else []
    monthly = Chart(f"{overview['name']} {year} 统筹基金支付（月）fund paid by month", MONTHS,
                    [Series("统筹基金 fund", _by_month(months, "fund", year)),
                     Series("个人账户 account", _by_month(months, "acct", year)),
                     Series("现金 cash", _by_month(months, "cash", year))], rules=rules)
    bands = [Band(b["low"], b["high"], b["label"]) for b in overview["bands"]]
    budget = [Rule(overview["budget"], "年度预算")] if overview["budget"] is not None else []
    running = Chart(f"{overview['name']} {year} 累计基金支付与使用率区间 cumulative fund against the usage tiers",
                    MONTHS, [Series("累计统筹基金 cumulative", _by_month(months, "cumulative_fund", year), "line")],
                    rules=budget, bands=bands)
    return {"monthly": render(monthly), "cumulative": render(running)}


def _short(code: str) -> str:
    """An institution code short enough for an axis: its kind letter and last three digits."""
    return code[:1] + code[-3:]


def clearing_chart(clearing: dict[str, Any]) -> str:
    """Each institution's actual, final amount and what it was prepaid."""
    rows = clearing["rows"]
    return render(Chart(f"{clearing['admdvs']} {clearing['year']} 年终清算 year-end clearing",
                        [_short(r["fixmedins_code"]) for r in rows],
                        [Series("实际发生 actual", [r["actual"] for r in rows]),
                         Series("拨付 final", [r["final_amount"] for r in rows]),
                         Series("已预付 prepaid", [r["prepaid"] for r in rows])]))


def institution_charts(data: dict[str, Any]) -> dict[str, str]:
    """The prepayment ledger by month, and the cost per visit against the Jiaozuo ceiling."""
    year, rows = data["year"], data["prepayments"]["rows"]
    ledger = Chart(f"{data['institution']['fixmedins_code']} {year} 月度预付 monthly prepayments", MONTHS,
                   [Series("实际发生 actual", _by_month(rows, "actual", year)),
                    Series("拨付 paid", _by_month(rows, "paid", year)),
                    Series("保证金 withheld", _by_month(rows, "withheld", year))])
    ceiling = data["ceiling"]
    rules = []
    if ceiling["baseline"] is not None:
        rules = [Rule(ceiling["baseline"], "基数 baseline"), Rule(ceiling["ceiling"], "上限 ceiling")]
    cost = Chart(f"{data['institution']['fixmedins_code']} {year} 次均费用 cost per visit", MONTHS,
                 [Series("次均费用 cost per visit", _by_month(ceiling["months"], "cost_per_visit", year), "line")],
                 rules=rules)
    return {"prepayments": render(ledger), "cost": render(cost)}


def member_chart(data: dict[str, Any]) -> str:
    """The personal account's balance after each movement, as steps."""
    rows = data["history"]
    return render(Chart(f"{data['psn_no']} 个人账户余额 account balance", [r["date"][5:] for r in rows],
                        [Series("余额 balance", [r["balc"] for r in rows], "step")],
                        label_every=max(1, len(rows) // 8)))


def cap_chart(data: dict[str, Any]) -> str:
    """Cap used against the cap."""
    cap = data["cap"]
    return render(Chart(f"{data['psn_no']} {data['year']} 年度支付限额 annual cap", ["used"],
                        [Series("已用 used", [cap["used"]])], rules=[Rule(cap["cap"], "限额 cap")]))


def whatif_chart(result: dict[str, Any]) -> str:
    """The fund's difference per institution under the reform."""
    rows = result["rows"]
    return render(Chart(f"{result['admdvs']} {result['year']} 改革影响 {result['reform']}",
                        [_short(r["fixmedins_code"]) for r in rows],
                        [Series("统筹基金 fund", [r["fund"] for r in rows]),
                         Series("改革后 what if", [r["fund_whatif"] for r in rows])]))


def whatif_month_chart(result: dict[str, Any]) -> str:
    """The fund's difference per month under the reform."""
    rows = result.get("months", [])
    return render(Chart(f"{result['admdvs']} {result['year']} 每月基金变化 fund difference by month",
                        [r["month"][5:] for r in rows],
                        [Series("差额 difference", [r["fund_difference"] for r in rows])]))


def region_context(app: OutpatientPooling, admdvs: str, year: int) -> dict[str, Any]:
    """What the region section needs: the overview, its charts, the clearing chart."""
    overview = console_queries.region_overview(app, admdvs, year)
    return {"o": overview, "charts": region_charts(overview),
            "clearing_chart": clearing_chart(overview["clearing"]) if overview["clearing"] else ""}


def report(app: OutpatientPooling, admdvs: str, year: int, audit: AuditReport) -> str:
    """The year-end report: one self-contained HTML file (inline CSS and SVG), printable."""
    return page("report.html", **region_context(app, admdvs, year), audit=audit.as_dict(), link=False,
                position=app.recorder.max_notification_id())
