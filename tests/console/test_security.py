"""Who may open and change what in the console: sessions, roles and CSRF."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import cast

import pytest
from starlette.requests import Request

from ledger.entrypoints.console.router import KEY_VARIABLE, _signer
from ledger.entrypoints.console.sessions import COOKIE, SIGNIN_COOKIE, Signer
from tests.console.conftest import ADMDVS, OTHER, OWN, YEAR

PAGES = ["/console/", f"/console/region/{ADMDVS}?year={YEAR}", f"/console/institution/{OWN}",
         f"/console/settlement/{OWN}-S0000058", "/console/member/M410200000071", f"/console/watch/{ADMDVS}",
         "/console/audit", "/console/policy", "/console/whatif", f"/console/report/{ADMDVS}/{YEAR}"]


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_session_redirects_to_sign_in(console, path):
    response = console.http.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/signin?next=/console/")


def test_session_cookie_is_signed_http_only_secure_and_expiring(console):
    response = console.signin("regulator-1", console.secrets["regulator-1"])
    assert response.status_code == 303 and response.headers["location"] == "/console/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Max-Age=28800" in cookie


def test_a_wrong_secret_signs_nobody_in(console):
    response = console.signin("regulator-1", "guess")
    assert response.status_code == 401
    assert f"{COOKIE}=" not in response.headers.get("set-cookie", "")
    assert "paasid or secret not recognised" in response.text


def test_a_sign_in_without_the_forms_csrf_token_is_refused(console):
    data = {"paasid": "regulator-1", "secret": console.secrets["regulator-1"]}
    for extra, headers in (({}, {}), ({"csrf": "forged"}, {"cookie": f"{SIGNIN_COOKIE}=nonce"})):
        response = console.http.post("/console/signin", data={**data, **extra}, headers=headers)
        assert response.status_code == 403 and "CSRF token is missing or not this browser" in response.text
        assert f"{COOKIE}=" not in response.headers.get("set-cookie", "")


def test_an_altered_or_expired_cookie_is_no_session(console):
    value = console.cookie("bureau-op")
    body, mac = value.rsplit(".", 1)
    forged = f"{body[:-2]}xx.{mac}"
    assert console.http.get("/console/", headers={"cookie": f"{COOKIE}={forged}"}).status_code == 303
    key = console.app.state.console_signer.key
    _, expired = Signer(key, clock=lambda: 1_000_000_000.0).issue("bureau-op", "operator")
    assert console.http.get("/console/", headers={"cookie": f"{COOKIE}={expired}"}).status_code == 303
    assert console.http.get("/console/", headers={"cookie": f"{COOKIE}={value}"}).status_code == 200


def test_an_institution_sees_only_its_own_pages(console):
    with console.as_user(OWN) as own:
        assert own.get(f"/console/institution/{OWN}?year={YEAR}").status_code == 200
        assert own.get(f"/console/settlement/{OWN}-S0000058").status_code == 200
        assert own.get("/console/member/M410200000071").status_code == 200  # settled at OWN (S0000058)
        refused = own.get(f"/console/institution/{OTHER}?year={YEAR}")
        assert refused.status_code == 403 and "sees only its own pages" in refused.text
        assert own.get(f"/console/settlement/{OTHER}-S0000001").status_code == 403
        for path in (f"/console/region/{ADMDVS}", f"/console/watch/{ADMDVS}", "/console/audit", "/console/policy",
                     "/console/whatif", f"/console/report/{ADMDVS}/{YEAR}"):
            assert own.get(path).status_code == 403, path
        assert own.get("/console/", follow_redirects=False).headers["location"] == f"/console/institution/{OWN}"


def test_an_institution_cannot_open_a_member_outside_its_settlements(console):
    with console.as_user(OTHER) as other:
        page = other.get(f"/console/institution/{OTHER}?year={YEAR}").text
        theirs = set(re.findall(r"/console/member/(M\d+)", page))
    with console.as_user(OWN) as own:
        mine = set(re.findall(r"/console/member/(M\d+)", own.get(f"/console/institution/{OWN}?year={YEAR}").text))
        outside = sorted(theirs - mine)
        assert outside
        # A member seen only at the other institution may still have settled here, in a month not listed.
        refused = [psn for psn in outside if own.get(f"/console/member/{psn}").status_code == 403]
        assert refused


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(console, cli):
    before = console.app.state.ledger.recorder.max_notification_id()
    with console.as_user("bureau-op") as op:
        page = op.get(f"/console/region/{ADMDVS}?year={YEAR}").text
        token = _csrf(page)
        for data in ({"month": "2026-01"}, {"month": "2026-01", "csrf": "forged"}):
            response = op.post(f"/console/region/{ADMDVS}/close-month", data=data)
            assert response.status_code == 403 and "CSRF token" in response.text
        other_session = console.as_user("bureau-op")
        stolen = other_session.post(f"/console/region/{ADMDVS}/close-month", data={"month": "2026-01", "csrf": token})
        assert stolen.status_code == 403
        other_session.close()
        assert op.post("/console/signout", data={}).status_code == 403
    assert console.app.state.ledger.recorder.max_notification_id() == before


def test_a_regulator_changes_nothing(console):
    before = console.app.state.ledger.recorder.max_notification_id()
    with console.as_user("regulator-1") as reg:
        page = reg.get(f"/console/region/{ADMDVS}?year={YEAR}").text
        assert 'id="close-month"' not in page  # the form is not offered
        response = reg.post(f"/console/region/{ADMDVS}/close-month", data={"month": "2026-01", "csrf": _csrf(page)})
        assert response.status_code == 403 and "a regulator changes nothing" in response.text
    assert console.app.state.ledger.recorder.max_notification_id() == before


def test_an_operator_closing_a_closed_month_gets_one_line_and_nothing_changes(console):
    before = console.app.state.ledger.recorder.max_notification_id()
    with console.as_user("bureau-op") as op:
        page = op.get(f"/console/region/{ADMDVS}?year={YEAR}").text
        assert 'id="close-month"' in page
        response = op.post(f"/console/region/{ADMDVS}/close-month", data={"month": f"{YEAR}-03", "csrf": _csrf(page)})
        assert response.status_code == 400
        error = re.search(r'id="error">([^<]*)<', response.text)
        assert error and "\n" not in error.group(1) and "Traceback" not in response.text
    assert console.app.state.ledger.recorder.max_notification_id() == before


def test_sign_out_ends_the_session_in_the_browser(console):
    with console.as_user("bureau-op") as op:
        token = _csrf(op.get("/console/").text)
        response = op.post("/console/signout", data={"csrf": token})
        assert response.status_code == 303 and response.headers["location"] == "/console/signin"
        assert f"{COOKIE}=" in response.headers["set-cookie"] and "Max-Age=0" in response.headers["set-cookie"]


def _worker() -> Request:
    """What the signer reads of a request: its app's state (one per worker process)."""
    return cast("Request", SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace())))


def test_with_a_configured_key_every_worker_reads_a_session(monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, "a key shared by the workers")
    _, cookie = _signer(_worker()).issue("bureau-op", "operator")
    session = _signer(_worker()).read(cookie)
    assert session is not None and session.paasid == "bureau-op"
    monkeypatch.delenv(KEY_VARIABLE)
    assert _signer(_worker()).read(cookie) is None  # a key drawn by another process
