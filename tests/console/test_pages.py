"""Each console page shows the figures the CLI's ``--json`` gives for the same question."""

from __future__ import annotations

import re
import time
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.cli.conftest import as_json
from tests.cli.test_log_commands import REFORM
from tests.console.conftest import ADMDVS, OWN, YEAR
from tests.console.helpers import charts, drawn, tables, text_of

MEMBER, SETTLEMENT = "M410200000071", f"{OWN}-S0000058"


@pytest.fixture(scope="module")
def operator(console):
    with console.as_user("bureau-op") as client:
        yield client


def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert '<meta charset="utf-8">' in response.text
    return response.text


def test_region_page_equals_clearing_json_kaifeng_3_3(operator, cli):
    html = _page(operator, f"/console/region/{ADMDVS}?year={YEAR}")
    expected = as_json(cli("clearing", ADMDVS, str(YEAR), "--json"))
    rows = {r[0]: r for r in tables(html)["clearing"][1:-1]}
    for r in expected["rows"]:
        assert rows[r["fixmedins_code"]][2:6] == [r["actual"], r["final_amount"], r["prepaid"], r["due"]]
    assert text_of(html, "tier") == expected["tier"] == "surplus_sharing_high"
    assert text_of(html, "budget") == expected["budget"]
    svgs = charts(html)
    assert len(svgs) == 3 and all(drawn(s) for s in svgs)
    assert "90%–100% 结余共享" in svgs[1]  # the tier's band, drawn on the running total


def test_region_institutions_add_up_to_the_months(operator):
    shown = tables(_page(operator, f"/console/region/{ADMDVS}?year={YEAR}"))
    institutions, months = shown["institutions"][1:], shown["months"][1:]
    assert sum(Decimal(r[6]) for r in institutions) == sum(Decimal(r[4]) for r in months)
    assert sum(int(r[3]) for r in institutions) == sum(int(r[1]) for r in months)
    h1 = next(r for r in institutions if r[0] == OWN)
    assert h1[2] == "hospital" and h1[7] == str((Decimal(h1[5]) / int(h1[4])).quantize(Decimal("0.01"), ROUND_HALF_UP))


def test_region_months_equal_the_reconciliations_3201(operator, cli):
    html = _page(operator, f"/console/region/{ADMDVS}?year={YEAR}")
    codes = [r["fixmedins_code"] for r in as_json(cli("clearing", ADMDVS, str(YEAR), "--json"))["rows"]]
    month = tables(html)["months"][1]
    answers = [as_json(cli("reconcile", code, "--month", month[0], "--json")) for code in codes]
    assert month[1] == str(sum(a["net_cnt"] for a in answers))
    assert month[4] == str(sum(Decimal(a["fund_pay_sumamt"]) for a in answers))


def test_institution_page_equals_prepayments_json(operator, cli):
    html = _page(operator, f"/console/institution/{OWN}?year={YEAR}")
    expected = as_json(cli("prepayments", OWN, "--year", str(YEAR), "--json"))["rows"]
    shown = tables(html)["prepayments"][1:]
    assert [r[0] for r in shown] == [r["month"] for r in expected]
    for row, r in zip(shown, expected, strict=True):
        assert row[3:9] == [r["actual"], r["allocation"], r["paid"], r["withheld"], r["cumulative_paid"],
                            r["cumulative_withheld"]]
    clearing = next(r for r in as_json(cli("clearing", ADMDVS, str(YEAR), "--json"))["rows"]
                    if r["fixmedins_code"] == OWN)
    assert text_of(html, "final-amount") == clearing["final_amount"]
    assert text_of(html, "due") == clearing["due"]
    assert "汴医保〔2023〕29号 三（三）" in html  # the article the clearing applied
    assert "ceiling-note" in html  # Kaifeng's scheme: Jiaozuo's ceiling does not apply, and the page says so
    assert all(drawn(s) for s in charts(html))


def test_institution_settlements_are_searchable_and_link_to_their_trace(operator):
    html = _page(operator, f"/console/institution/{OWN}?year={YEAR}&search=S0000058")
    rows = tables(html)["settlements"][1:]
    assert [r[0] for r in rows] == [SETTLEMENT]
    assert 'href="/console/settlement/' in html


def test_settlement_page_equals_settlement_json(operator, cli):
    expected = as_json(cli("settlement", SETTLEMENT, "--json"))
    html = _page(operator, f"/console/settlement/{expected['setl_id']}")
    for name in ("medfee_sumamt", "act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay", "balc"):
        assert text_of(html, name) == expected[name], name
    for step in expected["trace"]:
        assert step["text"] in html
    assert "假设 assumed" in html  # Kaifeng's member benefits are Xinyang's, borrowed


def test_member_page_equals_balance_and_cap_json(operator, cli):
    html = _page(operator, f"/console/member/{MEMBER}?year={YEAR}")
    assert text_of(html, "balance") == as_json(cli("balance", MEMBER, "--json"))["balc"]
    cap = as_json(cli("cap", MEMBER, "--year", str(YEAR), "--json"))
    assert [text_of(html, i) for i in ("cap", "cap-used", "cap-remaining")] == [cap["cap"], cap["used"],
                                                                               cap["remaining"]]
    history = as_json(cli("history", MEMBER, "--json"))["rows"]
    assert [r[3] for r in tables(html)["history"][1:]] == [r["balc"] for r in history]
    assert 'class="step"' in charts(html)[0]


def test_member_page_as_of_a_date_and_known_at_a_position(operator, cli):
    history = as_json(cli("history", MEMBER, "--json"))["rows"]
    position = str(history[3]["position"])
    html = _page(operator, f"/console/member/{MEMBER}?year={YEAR}&as_of={YEAR}-06-30&known_at={position}")
    expected = as_json(cli("balance", MEMBER, "--as-of", f"{YEAR}-06-30", "--known-at", position, "--json"))
    assert text_of(html, "balance") == expected["balc"]
    cap = as_json(cli("cap", MEMBER, "--year", str(YEAR), "--as-of", f"{YEAR}-06-30", "--known-at", position,
                      "--json"))
    assert text_of(html, "cap-used") == cap["used"]
    assert len(tables(html)["history"]) - 1 == 4


def test_a_bad_date_is_one_line_not_a_500(operator):
    response = operator.get(f"/console/member/{MEMBER}?as_of=30-06-2025")
    assert response.status_code == 400
    assert text_of(response.text, "error") == "as_of: &#39;30-06-2025&#39; is not a date YYYY-MM-DD [bad_argument]"
    assert "Traceback" not in response.text


@pytest.mark.parametrize(("path", "line"), [
    (f"/console/region/{ADMDVS}?year=20x5", "year: &#39;20x5&#39; is not a year YYYY [bad_argument]"),
    (f"/console/report/{ADMDVS}/abcd", "year: &#39;abcd&#39; is not a year YYYY [bad_argument]"),
    (f"/console/region/999999?year={YEAR}", "admdvs: no policy profile for region 999999 [unknown_region]"),
])
def test_bad_input_in_a_url_is_one_line(operator, path, line):
    response = operator.get(path)
    assert response.status_code == 400
    assert text_of(response.text, "error") == line


def test_unknown_keys_are_not_found(operator):
    for path in ("/console/member/M999", "/console/settlement/NOPE", "/console/institution/H999",
                 "/console/audit/nope/status"):
        response = operator.get(path)
        assert response.status_code == 404, path
        assert "Traceback" not in response.text


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


def _post_whatif(operator, admdvs: str, content: bytes):
    token = _csrf(_page(operator, "/console/whatif"))
    return operator.post("/console/whatif", data={"csrf": token, "admdvs": admdvs, "year": str(YEAR)},
                         files={"reform": ("reform.yaml", content, "application/x-yaml")})


@pytest.mark.parametrize(("admdvs", "content", "line"), [
    (ADMDVS, b"\xff\xfe not text", "reform: the reform file is not UTF-8 text [file_unusable]"),
    ("999999", REFORM.encode(), "admdvs: no policy profile for region 999999 [unknown_region]"),
])
def test_a_bad_reform_upload_is_one_line(operator, admdvs, content, line):
    response = _post_whatif(operator, admdvs, content)
    assert response.status_code == 400
    assert text_of(response.text, "error") == line


def test_watch_list_marks_its_thresholds_assumed_and_links_evidence(operator):
    html = _page(operator, f"/console/watch/{ADMDVS}?year={YEAR}")
    thresholds = tables(html)["thresholds"][1:]
    assert {r[0] for r in thresholds} >= {"watch_cost_per_visit_rise", "watch_peer_excess"}
    assert all("假设 assumed" in r[3] for r in thresholds)
    assert len(tables(html)["flags"]) > 1
    assert re.search(r'href="/console/institution/H\d+\?year=2025&amp;search=2025-\d\d#settlements-title"', html)


def test_policy_page_lists_every_parameter_in_force_with_its_citation(operator, console):
    html = _page(operator, f"/console/policy?admdvs={ADMDVS}&on={YEAR}-06-01")
    policy = console.app.state.ledger.library.policy_for(ADMDVS, date(YEAR, 6, 1))
    rows = tables(html)["params"][1:]
    assert [r[0] for r in rows] == sorted(policy.params)
    deposit = next(r for r in rows if r[0] == "deposit_rate")
    assert deposit[1:6] == ["0.05", "/1", "2023-11-02", "汴医保〔2023〕29号", "三（二）"] and deposit[6] == ""
    assert next(r for r in rows if r[0] == "annual_cap_in_service")[6] == "假设 assumed"


def test_whatif_upload_equals_whatif_json(operator, cli, tmp_path):
    reform = tmp_path / "reform.yaml"
    reform.write_text(REFORM, encoding="utf-8")
    expected = as_json(cli("whatif", "--policy", str(reform), ADMDVS, str(YEAR), "--json"))
    response = _post_whatif(operator, ADMDVS, REFORM.encode())
    assert response.status_code == 200, response.text
    html = response.text
    assert text_of(html, "total-difference") == expected["totals"]["fund_difference"]
    rows = {r[0]: r for r in tables(html)["whatif"][1:-1]}
    for r in expected["rows"]:
        assert rows[r["fixmedins_code"]][2:5] == [r["fund"], r["fund_whatif"], r["fund_difference"]]
    months = tables(html)["whatif-months"][1:]
    assert sum(Decimal(r[4]) for r in months) == Decimal(expected["totals"]["fund_difference"])
    assert all(drawn(s) for s in charts(html))


def _audit(operator, files=None) -> str:
    token = _csrf(_page(operator, "/console/audit"))
    started = operator.post("/console/audit", data={"csrf": token}, files=files)
    assert started.status_code == 303
    job = started.headers["location"].split("job=")[1]
    deadline = time.monotonic() + 120
    while operator.get(f"/console/audit/{job}/status").json()["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return _page(operator, started.headers["location"])


def test_an_uploaded_file_that_is_no_export_fails_its_audit(operator):
    html = _audit(operator, files={"export": ("log.jsonl", b'{"position": "x"}\n', "application/json")})
    assert text_of(html, "audit-result") == "审计未通过 audit FAILED"
    assert ["chain", "DIFFERS", "the file has no chain head line (truncated?)"] in tables(html)["checks"]


def test_an_uploaded_file_that_cannot_be_read_ends_its_audit_in_one_line(operator):
    html = _audit(operator, files={"export": ("log.jsonl", b'{"a": 1},"payload":{}}\n', "application/json")})
    assert text_of(html, "audit-result").startswith("审计无法完成 the audit could not run: ")


def test_audit_runs_in_the_background_and_passes(operator, cli):
    html = _audit(operator)
    expected = as_json(cli("audit", "--quiet", "--json"))
    assert text_of(html, "audit-result") == "审计通过 audit passed"
    assert text_of(html, "chain-head") == expected["chain_head"]
