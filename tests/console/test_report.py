"""``ledger report``: one self-contained HTML file whose figures are the CLI's ``--json`` answers."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from tests.cli.conftest import as_json, make_runner
from tests.console.conftest import ADMDVS, JIAOZUO, JIAOZUO_YEAR, YEAR
from tests.console.helpers import charts, drawn, tables, text_of


@pytest.fixture(scope="module")
def html(cli, tmp_path_factory) -> str:
    """``ledger report`` of the demo city, written once per store."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = cli("report", ADMDVS, str(YEAR), "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"wrote {out}: {ADMDVS} {YEAR}, audit passed"
    return out.read_text(encoding="utf-8")


def test_report_is_self_contained_and_draws_every_chart(html):
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html
    assert "WenQuanYi Micro Hei" in html  # a CJK font stack
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched
    svgs = charts(html)
    assert len(svgs) == 3  # fund by month, cumulative fund in the usage tiers, clearing
    assert all(drawn(svg) > 0 for svg in svgs)
    assert "开封市" in html


def test_report_clearing_table_equals_clearing_json_kaifeng_3_3(html, cli):
    expected = as_json(cli("clearing", ADMDVS, str(YEAR), "--json"))
    rows = tables(html)["clearing"]
    body = {r[0]: r for r in rows[1:-1]}
    assert sorted(body) == [r["fixmedins_code"] for r in expected["rows"]]
    for r in expected["rows"]:
        shown = body[r["fixmedins_code"]]
        returned = r["deposit_returned"] or "–"  # not yet assessed: the report shows a dash
        assert shown[2:8] == [r["actual"], r["final_amount"], r["prepaid"], r["due"], r["deposit_withheld"],
                              returned]
    assert rows[-1][2:4] == [expected["actual"], expected["final_amount"]]
    assert text_of(html, "usage-rate") == f"{Decimal(expected['usage_rate']) * 100:.2f}%"
    assert text_of(html, "tier") == expected["tier"]
    assert text_of(html, "budget") == expected["budget"]


def test_report_months_add_up_to_the_reconciliations_3201(html, cli):
    months = tables(html)["months"][1:]
    codes = [r["fixmedins_code"] for r in as_json(cli("clearing", ADMDVS, str(YEAR), "--json"))["rows"]]
    for row in months[:2]:
        answers = [as_json(cli("reconcile", code, "--month", row[0], "--json")) for code in codes]
        assert row[4] == str(sum(Decimal(a["fund_pay_sumamt"]) for a in answers))
        assert row[3] == str(sum(Decimal(a["medfee_sumamt"]) for a in answers))
        assert row[2] == str(sum(a["visit_cnt"] for a in answers))


def test_report_audit_equals_audit_json(html, cli):
    audit = json.loads(cli("audit", "--quiet", "--json").stdout)
    assert text_of(html, "chain-head") == audit["chain_head"]
    assert text_of(html, "audit-result") == "审计通过 audit passed"
    assert [r[:2] for r in tables(html)["checks"][1:]] == [[name, "ok"] for name in audit["checks"]]


def test_report_of_an_unknown_region_is_one_line(cli, tmp_path):
    result = cli("report", "999999", str(YEAR), "--out", str(tmp_path / "r.html"), "--quiet")
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("ledger: ") and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists()


def test_a_jiaozuo_report_cites_its_cost_ceiling_and_has_no_budget_tiers_jiaozuo_4_1(jiaozuo_demo_store, tmp_path):
    out = tmp_path / "jiaozuo.html"
    result = make_runner(jiaozuo_demo_store.url)("report", JIAOZUO, str(JIAOZUO_YEAR), "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert all(drawn(svg) > 0 for svg in charts(html))
    assert "焦医保〔2024〕32号 四（一）3（2）" in html and "6.5%" in html
    assert 'class="band"' not in html and 'id="usage-rate"' not in html  # no budget, no Kaifeng tiers
