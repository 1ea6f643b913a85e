"""The console's pages under ``/console/``: a FastAPI router over the application's queries.

The service mounts it with ``app.include_router(router, prefix="/console")`` and provides
``app.state.ledger`` (the application) and ``app.state.credentials`` (whose
``check_secret(paasid, secret)`` returns the principal, or None). Pages are rendered on the
server; the only script sorts tables and follows a background audit.

Who sees what: operators and regulators every page; an institution only its own page, its
settlements and the members who settled with it. Only an operator changes anything (closing
a month); every form that posts carries the session's CSRF token.
"""

from __future__ import annotations

import functools
import inspect
import os
import secrets
import shutil
import tempfile
import threading
import uuid
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from ledger.entrypoints.console import views
from ledger.entrypoints.console.sessions import COOKIE, SIGNIN_COOKIE, Session, Signer
from ledger.errors import InputError, LedgerError, UnknownError
from ledger.exchange.messages import MessageError, validate_message
from ledger.periods import month_end
from ledger.refusals import RefusalCode
from ledger.services import console_queries as q
from ledger.services.application import BOOKED, PRESENT
from ledger.services.audit import audit as run_audit
from ledger.services.bootstrap import bootstrap
from ledger.services.ingest import describe
from ledger.services.whatif import whatif as run_whatif

if TYPE_CHECKING:
    from collections.abc import Callable

    from ledger.services.application import OutpatientPooling

PREFIX = "/console"
KEY_VARIABLE = "LEDGER_CONSOLE_KEY"
router = APIRouter(include_in_schema=False)
"""HTML pages, not an API: kept out of the service's OpenAPI schema."""


class Refused(Exception):
    """A request the console answers with a page saying why (and a status), not a traceback."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInFirst(Exception):
    """No valid session: go to the sign-in form, then come back."""


_state_lock = threading.Lock()


def _signer(request: Request) -> Signer:
    """The app's session signer, made on first use under the key ``LEDGER_CONSOLE_KEY`` names.

    Without that key each process draws its own: sessions then last as long as the process
    and do not cross worker processes (``ledger serve --workers N`` needs the key set).
    """
    state = request.app.state
    with _state_lock:
        if getattr(state, "console_signer", None) is None:
            configured = os.environ.get(KEY_VARIABLE, "")
            state.console_signer = Signer(configured.encode() if configured else secrets.token_bytes(32))
    signer: Signer = state.console_signer
    return signer


def _ledger(request: Request) -> OutpatientPooling:
    ledger: OutpatientPooling = request.app.state.ledger
    return ledger


def _who(request: Request) -> Session:
    session = _signer(request).read(request.cookies.get(COOKIE))
    if session is None:
        raise SignInFirst
    return session


def _bureau(session: Session) -> None:
    if not session.sees_everything:
        raise Refused(403, "this page is for the bureau's operators and regulators")


def _own(session: Session, fixmedins_code: str) -> None:
    if not session.sees_everything and session.fixmedins_code != fixmedins_code:
        raise Refused(403, f"an institution sees only its own pages, not {fixmedins_code}'s")


async def _form(request: Request, session: Session) -> dict[str, Any]:
    """The posted form, refused unless it carries the session's CSRF token."""
    form = await request.form()
    if not _signer(request).check_csrf(session, str(form.get("csrf") or "")):
        raise Refused(403, "the form's CSRF token is missing or not this session's; reload the page")
    return dict(form)


def _upload(form: dict[str, Any], name: str) -> UploadFile | None:
    """The file posted as ``name``, if one was chosen."""
    found = form.get(name)
    return found if isinstance(found, UploadFile) and found.filename else None


def _render(request: Request, session: Session | None, template: str, status: int = 200,
            **context: Any) -> HTMLResponse:
    csrf = _signer(request).csrf(session) if session else ""
    html = views.page(template, principal=session, csrf=csrf, base=PREFIX, link=True, **context)
    return HTMLResponse(html, status_code=status)


def _answer(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a refusal, a missing session or a ledger error into a page, a redirect or a one-line error.

    A handler that is not a coroutine runs in the thread pool, so a long query does not hold up
    the settlement service on the same event loop.
    """

    @functools.wraps(handler)
    async def wrapped(request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            if inspect.iscoroutinefunction(handler):
                result: Response = await handler(request, *args, **kwargs)
            else:  # a page that only reads: off the event loop, as the service's own calls are
                result = await run_in_threadpool(handler, request, *args, **kwargs)
            return result
        except SignInFirst:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"{PREFIX}/signin?next={quote(target)}", status_code=303)
        except Refused as e:
            status, title, message = e.status, "refused", e.message
        except UnknownError as e:
            status, title, message = 404, "not found", describe(e)
        except InputError as e:
            status, title, message = 400, "refused", describe(e)
        except (LedgerError, MessageError) as e:
            status, title, message = 400, "refused", str(e)
        session = _signer(request).read(request.cookies.get(COOKIE))
        return _render(request, session, "error.html", status, title=title, message=message)

    return wrapped


def _year(app: OutpatientPooling, admdvs: str | None, year: str = "") -> int:
    """The year asked for, or the latest the ledger holds for the region."""
    if year:
        if not (year.isdigit() and len(year) == 4):
            raise InputError("year", f"{year!r} is not a year YYYY", code=RefusalCode.BAD_ARGUMENT)
        return int(year)
    regions = q.regions_with_data(app)
    years = [y for r in regions if admdvs is None or r["admdvs"] == admdvs for y in r["years"]]
    return max(years) if years else date.today().year


def _date(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(field, f"{value!r} is not a date YYYY-MM-DD", code=RefusalCode.BAD_ARGUMENT) from None


# ------------------------------------------------------------------ sign-in


def _signin_page(request: Request, target: str, error: str | None = None, status: int = 200) -> Response:
    """The sign-in form, with a CSRF token made from the nonce in its own cookie (set here if missing)."""
    signer = _signer(request)
    nonce = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(16)
    response = _render(request, None, "signin.html", status, title="sign in", next=target, error=error,
                       signin_csrf=signer.signin_csrf(nonce))
    response.set_cookie(SIGNIN_COOKIE, nonce, max_age=signer.lifetime, httponly=True, secure=True,
                        samesite="strict", path=PREFIX)
    return response


@router.get("/signin", response_class=HTMLResponse)
@_answer
def signin_form(request: Request, next: str = "") -> Response:
    """The sign-in form."""
    return _signin_page(request, next)


@router.post("/signin")
@_answer
async def signin(request: Request) -> Response:
    """Check paasid and secret; on success set the session cookie and go on."""
    form = await request.form()
    paasid, secret, target, token = (str(form.get(k) or "") for k in ("paasid", "secret", "next", "csrf"))
    if not _signer(request).check_signin_csrf(request.cookies.get(SIGNIN_COOKIE), token):
        raise Refused(403, "the sign-in form's CSRF token is missing or not this browser's; reload the form")
    check = request.app.state.credentials.check_secret
    principal = await run_in_threadpool(check, paasid, secret) if paasid and secret else None
    if principal is None:
        return _signin_page(request, target, "paasid or secret not recognised", 401)
    session, cookie = _signer(request).issue(principal.paasid, principal.role)
    home = f"{PREFIX}/institution/{session.paasid}" if session.role == "institution" else f"{PREFIX}/"
    if not target.startswith(f"{PREFIX}/") or target.startswith(f"{PREFIX}/signin"):
        target = home
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, cookie, max_age=_signer(request).lifetime, httponly=True, secure=True,
                        samesite="strict", path=PREFIX)
    return response


@router.post("/signout")
@_answer
async def signout(request: Request) -> Response:
    """End the session."""
    await _form(request, _who(request))
    response = RedirectResponse(f"{PREFIX}/signin", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX, secure=True, httponly=True, samesite="strict")
    return response


# ------------------------------------------------------------------ pages


@router.get("/", response_class=HTMLResponse)
@_answer
def home(request: Request) -> Response:
    """The regions the ledger holds, with their years."""
    session = _who(request)
    if session.role == "institution":
        return RedirectResponse(f"{PREFIX}/institution/{session.paasid}", status_code=303)
    _bureau(session)
    return _render(request, session, "home.html", title="regions", regions=q.regions_with_data(_ledger(request)))


@router.get("/region/{admdvs}", response_class=HTMLResponse)
@_answer
def region(request: Request, admdvs: str, year: str = "") -> Response:
    """A region's year: budget against fund paid, usage tiers, refusals, clearing."""
    session = _who(request)
    _bureau(session)
    app = _ledger(request)
    context = views.region_context(app, admdvs, _year(app, admdvs, year))
    return _render(request, session, "region.html", title=admdvs, **context)


@router.post("/region/{admdvs}/close-month")
@_answer
async def close_month(request: Request, admdvs: str) -> Response:
    """Close a month (operators only): credit accounts and prepay institutions."""
    session = _who(request)
    form = await _form(request, session)
    if not session.may_change:
        raise Refused(403, f"a {session.role} changes nothing in the ledger")
    month = str(form.get("month") or "")
    try:
        end = month_end(month)
    except ValueError as e:
        raise InputError("month", str(e), code=RefusalCode.BAD_ARGUMENT) from None
    msg = validate_message({"type": "month.closed", "date": end.isoformat(), "admdvs": admdvs, "month": month})
    outcome = await run_in_threadpool(functools.partial(_ledger(request).close_period, msg, refuse_repeat=True))
    if outcome not in (BOOKED, PRESENT):
        raise outcome  # type: ignore[misc]
    return RedirectResponse(f"{PREFIX}/region/{admdvs}?year={month[:4]}", status_code=303)


@router.get("/institution/{fixmedins_code}", response_class=HTMLResponse)
@_answer
def institution(request: Request, fixmedins_code: str, year: str = "", search: str = "") -> Response:
    """An institution's prepayments, clearing, cost ceiling and its settlements, searchable."""
    session = _who(request)
    _own(session, fixmedins_code)
    app = _ledger(request)
    info = q.institution_info(app, fixmedins_code)
    data = q.institution_page(app, fixmedins_code, _year(app, info["admdvs"], year))
    return _render(request, session, "institution.html", title=fixmedins_code, d=data,
                   charts=views.institution_charts(data), search=search,
                   settlements=q.search_settlements(app, fixmedins_code, search))


@router.get("/settlement/{key}", response_class=HTMLResponse)
@_answer
def settlement(request: Request, key: str) -> Response:
    """A settlement's setlinfo, setldetail and trace: each rule, each parameter with its citation."""
    session = _who(request)
    app = _ledger(request)
    found = app.get_settlement(key)
    _own(session, found.fixmedins_code)
    return _render(request, session, "settlement.html", title=found.medins_setl_id, s=app.settlement_view(found))


@router.get("/member/{psn_no}", response_class=HTMLResponse)
@_answer
def member(request: Request, psn_no: str, year: str = "", as_of: str = "",
                 known_at: str = "") -> Response:
    """A member's balance history, cap and settlements, as of a date and as known at a log position."""
    session = _who(request)
    app = _ledger(request)
    if not session.sees_everything and session.fixmedins_code not in q.member_institutions(app, psn_no):
        raise Refused(403, f"an institution sees only members who settled with it, not {psn_no}")
    data = q.member_page(app, psn_no, _year(app, None, year), _date(as_of, "as_of"), known_at or None)
    if session.fixmedins_code is not None:
        data["settlements"] = [s for s in data["settlements"] if s["fixmedins_code"] == session.fixmedins_code]
    return _render(request, session, "member.html", title=psn_no, d=data, balance_chart=views.member_chart(data),
                   cap_chart=views.cap_chart(data), as_of=as_of, known_at=known_at)


@router.get("/watch/{admdvs}", response_class=HTMLResponse)
@_answer
def watch(request: Request, admdvs: str, year: str = "") -> Response:
    """Institution-months past a watch threshold, each linked to its evidence."""
    session = _who(request)
    _bureau(session)
    app = _ledger(request)
    return _render(request, session, "watch.html", title=f"watch {admdvs}",
                   w=q.watch_list(app, admdvs, _year(app, admdvs, year)))


@router.get("/policy", response_class=HTMLResponse)
@_answer
def policy(request: Request, admdvs: str = "", on: str = "") -> Response:
    """Every parameter in force for a region on a date, with its citation; assumed values marked."""
    session = _who(request)
    _bureau(session)
    app = _ledger(request)
    regions = [{"admdvs": a, "name": app.library.regions[a].name} for a in app.library.regions_known()]
    chosen = admdvs or (q.regions_with_data(app) or regions)[0]["admdvs"]
    day = _date(on, "on") or date(_year(app, chosen), 12, 31)
    return _render(request, session, "policy.html", title="policy", regions=regions,
                   p=q.policy_in_force(app, chosen, day))


@router.get("/report/{admdvs}/{year}", response_class=HTMLResponse)
@_answer
def report(request: Request, admdvs: str, year: str) -> Response:
    """The year-end report, as ``ledger report`` writes it."""
    _bureau(_who(request))
    app = _ledger(request)
    return HTMLResponse(views.report(app, admdvs, _year(app, admdvs, year), run_audit(app)))


# ------------------------------------------------------------------ audit in the background


class AuditJobs:
    """Audits running in threads, each on its own application over the same store."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def start(self, app: OutpatientPooling, export: Path | None) -> str:
        """Start an audit of the live store (or of an export file); returns the job's id."""
        job = uuid.uuid4().hex
        with self.lock:
            self.jobs[job] = {"state": "running", "events": app.recorder.max_notification_id() or 0,
                              "report": None, "error": None}
        threading.Thread(target=self._run, args=(job, app.store.url, export), daemon=True).start()
        return job

    def _run(self, job: str, url: str, export: Path | None) -> None:
        try:
            if export is not None:
                report = run_audit(export=str(export))
            else:
                own = bootstrap(url)
                try:
                    report = run_audit(own)
                finally:
                    own.close()
            outcome: dict[str, Any] = {"state": "done", "report": report.as_dict()}
        except Exception as e:  # an uploaded file can fail in any way; the job must end, saying why
            outcome = {"state": "failed", "error": f"{type(e).__name__}: {e}"}
        finally:
            if export is not None:
                shutil.rmtree(export.parent, ignore_errors=True)
        with self.lock:
            self.jobs[job].update(outcome)

    def get(self, job: str) -> dict[str, Any]:
        """A job's state and, when done, its report."""
        with self.lock:
            found = self.jobs.get(job)
            if found is None:
                raise Refused(404, f"no audit {job}")
            return dict(found)


def _jobs(request: Request) -> AuditJobs:
    state = request.app.state
    with _state_lock:
        if getattr(state, "console_audits", None) is None:
            state.console_audits = AuditJobs()
    jobs: AuditJobs = state.console_audits
    return jobs


@router.get("/audit", response_class=HTMLResponse)
@_answer
def audit_page(request: Request, job: str = "") -> Response:
    """Start an audit, follow its progress, read its report."""
    session = _who(request)
    _bureau(session)
    found = _jobs(request).get(job) if job else None
    return _render(request, session, "audit.html", title="audit", job=job, found=found)


@router.post("/audit")
@_answer
async def audit_start(request: Request) -> Response:
    """Run an audit of the live log, or of an uploaded export, in the background."""
    session = _who(request)
    _bureau(session)
    form = await _form(request, session)
    upload = _upload(form, "export")
    export = None
    if upload is not None:
        folder = Path(tempfile.mkdtemp(prefix="ledger-console-"))
        export = folder / "export.jsonl"
        export.write_bytes(await upload.read())
    job = await run_in_threadpool(_jobs(request).start, _ledger(request), export)
    return RedirectResponse(f"{PREFIX}/audit?job={job}", status_code=303)


@router.get("/audit/{job}/status")
@_answer
def audit_status(request: Request, job: str) -> Response:
    """A job's state, for the page's progress indicator."""
    _bureau(_who(request))
    found = _jobs(request).get(job)
    return JSONResponse({"state": found["state"], "events": found["events"]})


# ------------------------------------------------------------------ what if


@router.get("/whatif", response_class=HTMLResponse)
@_answer
def whatif_form(request: Request) -> Response:
    """Upload a reform's parameter file."""
    session = _who(request)
    _bureau(session)
    return _render(request, session, "whatif.html", title="what if", regions=q.regions_with_data(_ledger(request)),
                   result=None)


@router.post("/whatif", response_class=HTMLResponse)
@_answer
async def whatif(request: Request) -> Response:
    """Replay a region's year under the uploaded reform: the fund's impact per institution and month."""
    session = _who(request)
    _bureau(session)
    form = await _form(request, session)
    upload, admdvs = _upload(form, "reform"), str(form.get("admdvs") or "")
    if upload is None:
        raise InputError("reform", "choose a reform's parameter file to upload", code=RefusalCode.BAD_ARGUMENT)
    app = _ledger(request)
    if admdvs not in app.library.regions:
        raise InputError("admdvs", f"no policy profile for region {admdvs}", code=RefusalCode.UNKNOWN_REGION)
    year = _year(app, admdvs, str(form.get("year") or ""))
    content = await upload.read()
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("reform", "the reform file is not UTF-8 text", code=RefusalCode.FILE_UNUSABLE) from None
    folder = Path(tempfile.mkdtemp(prefix="ledger-console-"))
    try:
        path = folder / "reform.yaml"
        path.write_bytes(content)
        result = await run_in_threadpool(run_whatif, app, str(path), admdvs, year)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _render(request, session, "whatif.html", title="what if", regions=q.regions_with_data(app),
                   result=result, chart=views.whatif_chart(result), month_chart=views.whatif_month_chart(result))
