"""The console in a real headless Chromium (Debian's ``chromium``; Playwright drives it, downloads nothing).

Sign in, open each page, check the figures against the CLI's ``--json`` answers, click from
the region to an institution to a settlement's trace, run an audit and see it pass, upload a
tampered export and see its audit fail. Each page's screenshot is saved under
``tmp/artifacts/console/`` (``docs/screenshots/`` holds a copy).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import as_json, make_runner
from tests.cli.test_log_commands import REFORM
from tests.console.conftest import ADMDVS, OWN, YEAR, serve

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install chromium fonts-wqy-microhei)",
                allow_module_level=True)

ARTIFACTS = Path(__file__).resolve().parents[2] / "tmp" / "artifacts" / "console"
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def console(sqlite_demo_store):
    yield from serve(sqlite_demo_store)


@pytest.fixture(scope="module")
def cli(sqlite_demo_store):
    return make_runner(sqlite_demo_store.url)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def _signed_in(browser, console, paasid: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{console.url}/console/")
    assert "/console/signin" in page.url
    page.fill("input[name=paasid]", paasid)
    page.fill("input[name=secret]", console.secrets[paasid])
    page.click("#signin button[type=submit]")
    page.wait_for_load_state()
    return page


@pytest.fixture(scope="module")
def operator(browser, console):
    page = _signed_in(browser, console, "bureau-op")
    yield page
    page.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def test_sign_in_form(browser, console):
    page = browser.new_page(viewport={"width": 1280, "height": 600})
    page.goto(f"{console.url}/console/region/{ADMDVS}")
    assert page.locator("#signin").is_visible()
    shot(page, "01-signin")
    page.close()


def test_click_from_region_to_institution_to_settlement_trace(operator, console, cli):
    clearing = as_json(cli("clearing", ADMDVS, str(YEAR), "--json"))
    operator.goto(f"{console.url}/console/")
    shot(operator, "02-regions")
    operator.click(f"#regions a[href='/console/region/{ADMDVS}?year={YEAR}']")
    assert operator.locator("#tier").inner_text() == clearing["tier"]
    assert operator.locator("#budget").inner_text() == clearing["budget"]
    assert operator.locator("svg.chart").count() == 3
    shot(operator, "03-region")
    operator.click(f"#clearing a:text('{OWN}')")
    row = next(r for r in clearing["rows"] if r["fixmedins_code"] == OWN)
    assert operator.locator("#final-amount").inner_text() == row["final_amount"]
    assert operator.locator("#due").inner_text() == row["due"]
    shot(operator, "04-institution")
    link = operator.locator("#settlements tbody a[href^='/console/settlement/']").first
    key = link.inner_text()
    link.click()
    expected = as_json(cli("settlement", key, "--json"))
    assert operator.locator("#fund_pay_sumamt").inner_text() == expected["fund_pay_sumamt"]
    assert operator.locator("ol.trace > li").count() == len(expected["trace"])
    shot(operator, "05-settlement")


def test_member_page(operator, console, cli):
    operator.goto(f"{console.url}/console/member/M410200000071?year={YEAR}")
    assert operator.locator("#balance").inner_text() == as_json(cli("balance", "M410200000071", "--json"))["balc"]
    cap = as_json(cli("cap", "M410200000071", "--year", str(YEAR), "--json"))
    assert operator.locator("#cap-used").inner_text() == cap["used"]
    shot(operator, "06-member")


def test_watch_list_and_policy_pages(operator, console):
    operator.goto(f"{console.url}/console/watch/{ADMDVS}?year={YEAR}")
    assert operator.locator("#thresholds .assumed").count() >= 5
    shot(operator, "07-watch")
    operator.goto(f"{console.url}/console/policy?admdvs={ADMDVS}&on={YEAR}-06-01")
    assert operator.locator("#params tbody tr").count() > 20
    shot(operator, "08-policy")


def test_sorting_a_table_by_a_number_column(operator, console):
    operator.goto(f"{console.url}/console/region/{ADMDVS}?year={YEAR}")
    operator.click("#clearing thead th:nth-child(4)")  # final amount, ascending
    finals = [float(t) for t in operator.locator("#clearing tbody td:nth-child(4)").all_inner_texts()]
    assert finals == sorted(finals)


def test_whatif_upload(operator, console, cli, tmp_path):
    reform = tmp_path / "reform.yaml"
    reform.write_text(REFORM, encoding="utf-8")
    expected = as_json(cli("whatif", "--policy", str(reform), ADMDVS, str(YEAR), "--json"))
    operator.goto(f"{console.url}/console/whatif")
    operator.set_input_files("input[name=reform]", str(reform))
    operator.click("#whatif-form button[type=submit]")
    assert operator.locator("#total-difference").inner_text() == expected["totals"]["fund_difference"]
    shot(operator, "09-whatif")


def test_audit_passes_and_a_tampered_export_fails(operator, console, cli, tmp_path):
    expected = as_json(cli("audit", "--quiet", "--json"))
    operator.goto(f"{console.url}/console/audit")
    operator.click("#start-audit button[type=submit]")
    operator.wait_for_selector("#audit-result")
    assert operator.locator("#audit-result").inner_text() == "审计通过 audit passed"
    assert operator.locator("#chain-head").inner_text() == expected["chain_head"]
    shot(operator, "10-audit")
    export = tmp_path / "log.jsonl"
    assert cli("export", str(export)).exit_code == 0
    lines = export.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if '"fund_pay_sumamt"' in line and "Settlement.Settled" in line)
    lines[at] = re.sub(r'("fund_pay_sumamt":\{"_type_":"decimal_str","_data_":")(\d+)', r"\g<1>9\2", lines[at], count=1)
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    operator.goto(f"{console.url}/console/audit")
    operator.set_input_files("input[name=export]", str(export))
    operator.click("#start-audit button[type=submit]")
    operator.wait_for_selector("#audit-result")
    assert operator.locator("#audit-result").inner_text() == "审计未通过 audit FAILED"
    assert "does not match its hash" in operator.locator("#checks").inner_text()
    shot(operator, "11-audit-tampered")


def test_report_page(operator, console):
    operator.goto(f"{console.url}/console/report/{ADMDVS}/{YEAR}")
    assert operator.locator("svg.chart").count() == 3
    shot(operator, "12-report")


def test_an_institution_lands_on_its_own_page(browser, console):
    page = _signed_in(browser, console, OWN)
    assert page.url.endswith(f"/console/institution/{OWN}")
    shot(page, "13-institution-own")
    page.goto(f"{console.url}/console/region/{ADMDVS}")
    assert page.locator("#error").inner_text() == "this page is for the bureau's operators and regulators"
    page.close()
