"""The ``ledger`` command: an edge that parses arguments, calls the application and prints.

Every command takes the store from ``--db URL`` or ``LEDGER_DB`` (default ``./ledger.db``).
``--json`` prints the exchange contract of DESIGN.md §3: amounts as decimal strings.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
import psycopg
from eventsourcing.persistence import EventSourcingError
from sqlalchemy.exc import SQLAlchemyError

from ledger.adapters.maintenance import maintain as maintain_store
from ledger.adapters.store import Store, StoreError, first_line
from ledger.errors import InputError, LedgerError, PolicyError, PolicyNotInForceError
from ledger.exchange.messages import MESSAGE_TYPES, MessageError, json_schema, parse_message, validate_message
from ledger.periods import parse_month
from ledger.refusals import RefusalCode, refusals_table
from ledger.rules.adjudication import SETLINFO_FIELDS
from ledger.rules.facts import RETIRED
from ledger.services.application import OutpatientPooling
from ledger.services.audit import AuditReport, export_log
from ledger.services.audit import audit as run_audit
from ledger.services.bootstrap import bootstrap
from ledger.services.deadlines import overdue
from ledger.services.ingest import describe, ingest_file
from ledger.services.whatif import whatif as run_whatif

if TYPE_CHECKING:
    from collections.abc import Iterator


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    msg = f"cannot print {type(value).__name__}"
    raise TypeError(msg)


def emit(data: Any) -> None:
    """Print JSON the way every ``--json`` output is printed."""
    click.echo(json.dumps(data, default=_default, ensure_ascii=False, indent=2))


class CommandError(LedgerError):
    """Raised by a command that cannot do what it was asked: one line, with its refusal code."""

    def __init__(self, message: str, code: RefusalCode) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: RefusalCode = RefusalCode.BAD_ARGUMENT) -> NoReturn:
    """Refuse the command: ``main`` prints the one line and exits with status 1."""
    raise CommandError(message, code)


_json_errors: ContextVar[bool] = ContextVar("json_errors", default=False)


def _errors_as_json(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        _json_errors.set(True)
    return value


json_option = click.option("--json", "as_json", is_flag=True, is_eager=True, callback=_errors_as_json,
                           help="Print JSON (and errors as JSON on stderr).")
"""The ``--json`` flag of every command that prints JSON: a failure is then ``{"error", "code"}`` on stderr."""


_LINE_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}


def _say(message: str, code: RefusalCode, article: str = "", status: int = 1) -> NoReturn:
    """The one line a failure prints: ``ledger: message [code, article]``, or after ``--json`` a JSON object."""
    if _json_errors.get():
        out = {"error": message, "code": str(code)} | ({"article": article} if article else {})
        # JSON leaves U+0085, U+2028 and U+2029 as they are, and each of them breaks a line for many readers.
        line = json.dumps(out, ensure_ascii=False).translate(_LINE_BREAKS)
        click.echo(line, err=True)
    else:
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)  # one line, whatever was typed
        click.echo(f"ledger: {shown} [{', '.join(x for x in (code, article) if x)}]", err=True)
    sys.exit(status)


DATABASE_ERRORS = (SQLAlchemyError, EventSourcingError, sqlite3.Error, psycopg.Error)


def _explain(error: Exception) -> tuple[str, RefusalCode] | tuple[str, RefusalCode, str]:
    """A failure as one line, its refusal code and, for a refused input, the article it rests on."""
    if isinstance(error, InputError):
        return f"{error.field}: {error.reason}", error.code, error.article
    if isinstance(error, CommandError | StoreError):
        return str(error), error.code
    if isinstance(error, PolicyNotInForceError):
        return str(error), RefusalCode.NO_POLICY_IN_FORCE
    if isinstance(error, PolicyError):
        return first_line(error), RefusalCode.BAD_POLICY_FILE
    if isinstance(error, DATABASE_ERRORS):
        text = first_line(getattr(error, "orig", None) or error)
        damaged = "not a database" in text or "malformed" in text
        return (f"the database failed: {text}",
                RefusalCode.STORE_FOREIGN if damaged else RefusalCode.STORE_UNAVAILABLE)
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or first_line(error)}", RefusalCode.FILE_UNUSABLE
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 text ({first_line(error)})", RefusalCode.FILE_UNUSABLE
    if isinstance(error, LedgerError):
        return first_line(error), RefusalCode.INVALID_VALUE
    return f"{type(error).__name__}: {first_line(error)}", RefusalCode.INVALID_VALUE


def _stdout_gone() -> None:
    """The reader of our output has gone (``ledger history M1 | head``): send what is left nowhere.

    Without this, Python's own flush at exit would fail again and print a warning.
    """
    with suppress(OSError, ValueError):  # not a real file (a test's runner): nothing to flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class LedgerCommands(click.Group):
    """The command group: every failure, from a bad argument to an unreachable server, is one line.

    Usage errors exit with status 2, refusals and failures with 1; no traceback is printed
    (``LEDGER_DEBUG=1`` shows it, for whoever is debugging the ledger itself).
    """

    def main(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Run the command and exit, turning every failure into its one line."""
        kwargs["standalone_mode"] = False
        token = _json_errors.set(False)
        try:
            status = super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as e:
            e.show()  # the help, as asked for by asking for nothing
            sys.exit(e.exit_code)
        except click.ClickException as e:
            _say(" ".join(e.format_message().split()), RefusalCode.BAD_ARGUMENT, status=e.exit_code)
        except (click.Abort, KeyboardInterrupt):
            _say("interrupted", RefusalCode.INTERRUPTED, status=130)
        except BrokenPipeError:
            _stdout_gone()
            sys.exit(1)
        except Exception as e:
            if os.environ.get("LEDGER_DEBUG"):
                raise
            _say(*_explain(e))
        finally:
            _json_errors.reset(token)
        sys.exit(status if isinstance(status, int) else 0)


@contextmanager
def opened(ctx: click.Context, *, create: bool = False) -> Iterator[OutpatientPooling]:
    """The application on the chosen store, which must already hold a ledger unless ``create``."""
    store = Store.parse(ctx.obj["db"])
    store.check(create=create)
    app = bootstrap(store)
    try:
        yield app
    finally:
        app.close()


def progress_wanted(quiet: bool) -> bool:
    """Progress bars only on a terminal: piped or redirected, stderr gets refusals alone, no ANSI codes."""
    return not quiet and sys.stderr.isatty()


class MonthType(click.ParamType):
    """A month written YYYY-MM."""

    name = "YYYY-MM"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:  # noqa: D102
        try:
            parse_month(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a month YYYY-MM", param, ctx)
        return str(value)


class KnownAtType(click.ParamType):
    """A log position (a whole number) or an ISO timestamp, kept as written for the application."""

    name = "POSITION|TIMESTAMP"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:  # noqa: D102
        text = str(value)
        if text.isdigit():
            if int(text) > 2**63 - 1:
                self.fail(f"{text} is past any log position", param, ctx)
            return text
        try:
            datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is neither a log position nor an ISO timestamp", param, ctx)
        return text


DAY = click.DateTime(formats=["%Y-%m-%d"])
MONTH = MonthType()
YEAR = click.IntRange(1, 9999)
KNOWN_AT = KnownAtType()


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@click.group(cls=LedgerCommands)
@click.version_option(version("yibao-ledger"), "--version", prog_name="ledger", message="%(prog)s %(version)s")
@click.option("--db", envvar="LEDGER_DB", default=None, metavar="URL",
              help="File path, sqlite:///path or postgresql://… (default ./ledger.db).")
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """yibao-ledger: the claims ledger of employee outpatient pooling (职工医保门诊统筹)."""
    ctx.obj = {"db": db}


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create an empty ledger at --db; the only command besides ingest and demo that may create one."""
    with opened(ctx, create=True) as app:
        app.read_models.catch_up()
        click.echo(f"a ledger at {app.store.where()}, {app.recorder.max_notification_id() or 0} events")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--batch", default=200, show_default=True, type=click.IntRange(min=1), help="Messages per transaction.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def ingest(ctx: click.Context, file: str, batch: int, quiet: bool) -> None:
    """Book every message of FILE (JSON lines); refused lines are reported and skipped."""
    with opened(ctx, create=True) as app:
        report = ingest_file(app, file, batch_size=batch, progress=progress_wanted(quiet), errors_to=sys.stderr)
    click.echo(report.summary())
    sys.exit(1 if report.refused else 0)


@main.command()
@click.option("--type", "type_", type=click.Choice(sorted(MESSAGE_TYPES)), help="Only this message type.")
def schema(type_: str | None) -> None:
    """Print the JSON Schema of the exchange messages."""
    if type_:
        emit(MESSAGE_TYPES[type_].model_json_schema())
    else:
        emit(json_schema())


@main.command()
def refusals() -> None:
    """Print every refusal code with its meaning and article (the Markdown of docs/refusals.md)."""
    click.echo(refusals_table(), nl=False)


def _read_messages(file: str) -> list[Any]:
    messages = []
    with open(file, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if raw.strip():
                try:
                    messages.append(parse_message(raw))
                except MessageError as e:
                    fail(f"{file}:{lineno}: {e}", e.code)
    return messages


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def presettle(ctx: click.Context, file: str) -> None:
    """Pre-settle the claims of FILE (2206): print what settling would give, book nothing."""
    with opened(ctx) as app:
        results = app.presettle(_read_messages(file))
    out = [r if isinstance(r, dict) else {"error": describe(r)} for r in results]
    emit(out)
    sys.exit(1 if any("error" in r for r in out) else 0)


@main.command()
@click.argument("key")
@json_option
@click.pass_context
def settlement(ctx: click.Context, key: str, as_json: bool) -> None:
    """A settlement by setl_id or medins_setl_id (2207's setlinfo, setldetail and trace)."""
    with opened(ctx) as app:
        view = app.settlement_view(app.get_settlement(key))
    if as_json:
        emit(view)
        return
    click.echo(f"{view['medins_setl_id']}  setl_id {view['setl_id']}  {view['status']}")
    click.echo(f"{view['psn_no']} at {view['fixmedins_code']} on {view['date']}")
    for name in SETLINFO_FIELDS:
        click.echo(f"  {name:<18} {view[name]}")
    if view["refusal"]:
        click.echo(f"  refused: {view['refusal']['code']} ({view['refusal']['article']})")
    for who in view["submitted_by"]:
        click.echo(f"  {who['event'].lower()} by {who['paasid']} (opter {who['opter']}, msgid {who['msgid']})")


@main.command()
@click.argument("key")
@click.pass_context
def explain(ctx: click.Context, key: str) -> None:
    """Explain a settlement rule by rule, with each parameter's value, date and article."""
    with opened(ctx) as app:
        s = app.get_settlement(key)
        explanation = app.explain(s)
    click.echo(f"{s.medins_setl_id} ({s.setl_id}), {s.kind} of {s.psn_no} at {s.fixmedins_code} on "
               f"{s.service_date}; policy {s.policy_version}")
    for i, step in enumerate(explanation.adjudication.trace, 1):
        click.echo(f"{i}. {step.text}")
        for c in step.params:
            flag = "  [assumed]" if c.assumed else ""
            click.echo(f"     {c.name} = {_show(c.value)} since {c.since}: {c.document} {c.article}{flag}")
            if c.assumed and c.note:
                click.echo(f"       note: {c.note}")
    if s.reversed_on:
        click.echo(f"Reversed on {s.reversed_on}.")
    if s.adjustments:
        click.echo(f"Adjusted {s.adjustments} time(s); the figures above are the current ones.")
    if not explanation.matches:
        click.echo("WARNING: re-adjudication differs from the recorded result.")


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(_show(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


@main.command()
@click.argument("psn_no")
@click.option("--as-of", type=DAY, help="Effective date YYYY-MM-DD.")
@click.option("--known-at", type=KNOWN_AT, help="What the ledger knew at a log position or an ISO timestamp.")
@json_option
@click.pass_context
def balance(ctx: click.Context, psn_no: str, as_of: datetime | None, known_at: str | None, as_json: bool) -> None:
    """The personal-account balance of PSN_NO."""
    with opened(ctx) as app:
        result = app.balance(psn_no, _day(as_of), known_at)
    if as_json:
        emit(result)
    else:
        click.echo(f"{psn_no} balance {result['balc']}")


@main.command()
@click.argument("psn_no")
@click.option("--year", type=YEAR, required=True)
@click.option("--as-of", type=DAY, help="Effective date YYYY-MM-DD.")
@click.option("--known-at", type=KNOWN_AT, help="What the ledger knew at a log position or an ISO timestamp.")
@json_option
@click.pass_context
def cap(ctx: click.Context, psn_no: str, year: int, as_of: datetime | None, known_at: str | None,
        as_json: bool) -> None:
    """Annual cap usage of PSN_NO (5206): cap, used, remaining."""
    with opened(ctx) as app:
        result = app.cap(psn_no, year, _day(as_of), known_at)
    if as_json:
        emit(result)
    else:
        click.echo(f"{psn_no} {year}: cap {result['cap']}, used {result['used']}, remaining {result['remaining']}, "
                   f"{result['visits']} visits, deductible paid {result['deductible_paid']}")


@main.command()
@click.argument("psn_no")
@json_option
@click.pass_context
def history(ctx: click.Context, psn_no: str, as_json: bool) -> None:
    """The personal account's movements with the running balance."""
    with opened(ctx) as app:
        rows = app.history(psn_no)
    if as_json:
        emit({"psn_no": psn_no, "rows": rows})
        return
    for r in rows:
        click.echo(f"{r['date']}  {r['kind']:<12} {r['amount']:>10}  {r['balc']:>10}  {r['reference']}")


def _run_period(ctx: click.Context, raw: dict[str, Any]) -> None:
    try:
        msg = validate_message(raw)
    except MessageError as e:
        fail(str(e), e.code)
    with opened(ctx) as app:
        outcome = app.close_period(msg, refuse_repeat=True)
        pending = app.pending_prepayment(raw["admdvs"], raw["month"]) if "month" in raw else None
    if isinstance(outcome, InputError):
        fail(describe(outcome), outcome.code)
    if isinstance(outcome, LedgerError):
        raise outcome
    click.echo(f"{raw['type']} {raw['admdvs']} {raw.get('month', raw.get('year'))}: done")
    if pending:
        click.echo(f"prepayment pending: {pending['reason']} [{pending['code']}]")


@main.command("close-month")
@click.argument("admdvs")
@click.argument("month", type=MONTH)
@click.option("--date", "day", type=DAY, help="The close's date (default: the month's last day).")
@click.pass_context
def close_month(ctx: click.Context, admdvs: str, month: str, day: datetime | None) -> None:
    """Close MONTH (YYYY-MM) for ADMDVS: credit accounts and prepay institutions."""
    from ledger.periods import month_end

    on = _day(day) or month_end(month)
    _run_period(ctx, {"type": "month.closed", "date": on.isoformat(), "admdvs": admdvs, "month": month})


@main.command("close-year")
@click.argument("admdvs")
@click.argument("year", type=YEAR)
@click.option("--date", "day", type=DAY, help="The clearing's date (default: 31 December).")
@click.pass_context
def close_year(ctx: click.Context, admdvs: str, year: int, day: datetime | None) -> None:
    """Clear YEAR for ADMDVS: each institution's final amount against its prepayments."""
    on = _day(day) or date(year, 12, 31)
    _run_period(ctx, {"type": "year.closed", "date": on.isoformat(), "admdvs": admdvs, "year": year})


@main.command()
@click.argument("fixmedins_code")
@click.option("--month", type=MONTH, required=True, help="YYYY-MM")
@json_option
@click.pass_context
def reconcile(ctx: click.Context, fixmedins_code: str, month: str, as_json: bool) -> None:
    """An institution's totals for a month (3201), to check against its own system."""
    with opened(ctx) as app:
        result = app.reconcile(fixmedins_code, month)
    if as_json:
        emit(result)
    else:
        click.echo(" ".join(f"{k}={v}" for k, v in result.items()))


@main.command()
@click.argument("fixmedins_code")
@click.option("--year", type=YEAR, required=True)
@click.option("--known-at", type=KNOWN_AT, help="What the ledger knew at a log position or an ISO timestamp.")
@json_option
@click.pass_context
def prepayments(ctx: click.Context, fixmedins_code: str, year: int, known_at: str | None, as_json: bool) -> None:
    """The monthly prepayment ledger of an institution."""
    with opened(ctx) as app:
        result = app.prepayments(fixmedins_code, year, known_at)
    if as_json:
        emit(result)
        return
    click.echo(f"{'month':<8}{'actual':>14}{'allocation':>14}{'paid':>14}{'withheld':>12}{'cum. paid':>14}")
    for r in result["rows"]:
        click.echo(f"{r['month']:<8}{r['actual']:>14}{r['allocation'] or '-':>14}{r['paid']:>14}"
                   f"{r['withheld']:>12}{r['cumulative_paid']:>14}")


@main.command("clearing")
@click.argument("admdvs")
@click.argument("year", type=YEAR)
@json_option
@click.pass_context
def clearing_cmd(ctx: click.Context, admdvs: str, year: int, as_json: bool) -> None:
    """The year-end clearing of a region."""
    with opened(ctx) as app:
        result = app.clearing(admdvs, year)
    if as_json:
        emit(result)
        return
    print_clearing(result)


def print_clearing(result: dict[str, Any]) -> None:
    """The clearing as a table."""
    click.echo(f"{result['admdvs']} {result['year']} ({result['scheme']}): usage rate {result['usage_rate']}, "
               f"tier {result['tier']}, budget {result['budget']}")
    click.echo(f"{'institution':<14}{'actual':>14}{'final':>14}{'prepaid':>14}{'due':>12}{'deposit back':>14}")
    for r in result["rows"]:
        click.echo(f"{r['fixmedins_code']:<14}{r['actual']:>14}{r['final_amount']:>14}{r['prepaid']:>14}"
                   f"{r['due']:>12}{r['deposit_returned'] if r['deposit_returned'] is not None else 'held':>14}")


@main.command("journal")
@click.option("--trial-balance", is_flag=True, required=True, help="Debits and credits per account.")
@json_option
@click.pass_context
def journal_cmd(ctx: click.Context, trial_balance: bool, as_json: bool) -> None:
    """The double-entry journal (同医保办发〔2022〕1号 第二十七条): the trial balance."""
    with opened(ctx) as app:
        result = app.trial_balance()
    if as_json:
        emit(result)
    else:
        for a in result["accounts"]:
            click.echo(f"{a['account']:<40}{a['debit']:>16}{a['credit']:>16}")
        click.echo(f"{'total':<40}{result['debit']:>16}{result['credit']:>16}")
    if not result["balanced"]:
        sys.exit(1)


@main.command()
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def rebuild(ctx: click.Context, quiet: bool) -> None:
    """Rebuild every read model from the event log alone."""
    with opened(ctx) as app:
        count = app.read_models.rebuild(progress=progress_wanted(quiet))
    click.echo(f"rebuilt the read models from {count} events")


@main.command()
@json_option
@click.pass_context
def maintain(ctx: click.Context, as_json: bool) -> None:
    """Vacuum and analyse the store in a quiet hour (PostgreSQL; appends wait while the log's part runs).

    Autovacuum gives way to the log's appends, so a log booked to without pause is vacuumed by
    nobody else. On SQLite the write-ahead log is checkpointed and the statistics refreshed.
    """
    store = Store.parse(ctx.obj["db"])
    store.check(create=False)
    done = maintain_store(store)
    if as_json:
        emit([m.as_record() for m in done])
        return
    for m in done:
        visible = "" if m.all_visible is None else f", {m.all_visible:,} all-visible"
        click.echo(f"{m.table}: {m.milliseconds / 1000:.1f} s, {m.pages:,} pages{visible}")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--key", type=click.Path(exists=True, dir_okay=False), help="Sign the head with this Ed25519 key.")
@click.option("--pseudonymise", "pseudonym_key", type=click.Path(exists=True, dir_okay=False), metavar="KEYFILE",
              help="Replace the identifiers of people with a keyed hash (HMAC-SHA256 under KEYFILE).")
@click.pass_context
def export(ctx: click.Context, file: str, key: str | None, pseudonym_key: str | None) -> None:
    """Write the whole log to FILE as JSON lines, each hash-chained to the one before, then the chain head."""
    if not Path(file).resolve().parent.is_dir():
        fail(f"{file}: the folder {Path(file).parent} does not exist", RefusalCode.FILE_UNUSABLE)
    with opened(ctx) as app:
        count, head = export_log(app, file, **_export_options(key, pseudonym_key))
    click.echo(f"exported {count} events to {file}; chain head {head}")


@main.command("audit")
@click.option("--from", "source", type=click.Path(exists=True, dir_okay=False), help="Audit an export file.")
@json_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--expect-head", "expect_head", metavar="FILE|HASH",
              help="A published chain head (a checkpoint file, an export, or a hash) the log must extend.")
@click.option("--trusted-key", "trusted_key", type=click.Path(exists=True, dir_okay=False),
              help="The Ed25519 public key (PEM) that must have signed the --expect-head checkpoint.")
@click.pass_context
def audit_cmd(ctx: click.Context, source: str | None, as_json: bool, quiet: bool, expect_head: str | None,
              trusted_key: str | None) -> None:
    """Replay the log: chain, rebuild, re-adjudication, journal and read models; exit 1 on any difference."""
    anchored = _anchor_options(expect_head, trusted_key)
    if source is not None:
        try:
            report = run_audit(export=source, progress=progress_wanted(quiet), **anchored)
        except (ValueError, KeyError, TypeError) as e:
            fail(f"{source} is not a ledger export ({first_line(e)})", RefusalCode.FILE_UNUSABLE)
    else:
        with opened(ctx) as app:
            report = run_audit(app, progress=progress_wanted(quiet), **anchored)
    if as_json:
        emit(report.as_dict())
    else:
        print_audit(report)
    sys.exit(0 if report.ok else 1)


def print_audit(report: AuditReport) -> None:
    """The audit report for a person."""
    click.echo(f"audit of {report.source}: {report.events} events, chain head {report.chain_head}")
    click.echo(f"  settlements re-adjudicated: {report.settlements_replayed}")
    click.echo(f"  period events re-derived: {report.period_events_rederived}")
    click.echo(f"  journal: debits {report.journal.get('debit')}, credits {report.journal.get('credit')}")
    for name, problems in report.checks.items():
        click.echo(f"  {name:<16} {'ok' if not problems else 'DIFFERS'}")
        for problem in problems:
            click.echo(f"    - {problem}")
    click.echo("audit passed" if report.ok else "audit FAILED")


@main.command("whatif")
@click.option("--policy", "reform", required=True, type=click.Path(exists=True, dir_okay=False),
              help="A parameter file (the shape of ledger/policy/documents) with the reform's values.")
@click.argument("admdvs")
@click.argument("year", type=YEAR)
@json_option
@click.pass_context
def whatif_cmd(ctx: click.Context, reform: str, admdvs: str, year: int, as_json: bool) -> None:
    """Replay a region's year under changed parameters; print the difference per institution, book nothing."""
    with opened(ctx) as app:
        result = run_whatif(app, reform, admdvs, year)
    if as_json:
        emit(result)
        return
    click.echo(f"{admdvs} {year} under {result['reform']}")
    click.echo(f"{'institution':<14}{'n':>6}{'fund':>14}{'fund (what if)':>16}{'Δ fund':>12}{'Δ members':>12}")
    for r in result["rows"]:
        click.echo(f"{r['fixmedins_code']:<14}{r['settlements']:>6}{r['fund']:>14}{r['fund_whatif']:>16}"
                   f"{r['fund_difference']:>12}{r['member_difference']:>12}")
    t = result["totals"]
    click.echo(f"{'total':<20}{t['fund']:>14}{t['fund_whatif']:>16}{t['fund_difference']:>12}"
               f"{t['member_difference']:>12}")


@main.command()
@click.option("--admdvs", default="410200", show_default=True, help="The demo city's region.")
@click.option("--members", default=200, show_default=True)
@click.option("--year", default=2025, show_default=True)
@click.option("--from-month", "from_month", default=1, show_default=True, type=click.IntRange(1, 12),
              help="The first month (Jiaozuo's scheme, for one, starts in August 2024).")
@click.option("--seed", default=7, show_default=True)
@click.option("--dir", "folder", default="demo", show_default=True, help="Where the city's messages are written.")
@click.pass_context
def demo(ctx: click.Context, admdvs: str, members: int, year: int, from_month: int, seed: int, folder: str) -> None:
    """A demo city-year: generate, ingest and settle, close its months, clear the year, audit."""
    from ledger.demo.city import CitySpec, write_city

    spec = CitySpec(admdvs=admdvs, members=members, year=year, seed=seed, start_month=from_month,
                    months=13 - from_month)
    Path(folder).mkdir(parents=True, exist_ok=True)
    city = Path(folder) / f"city-{admdvs}-{year}-{seed}.jsonl"
    lines = write_city(spec, city)
    click.echo(f"1. generated {city}: {lines} messages ({members} members, {spec.hospitals} hospitals, "
               f"{spec.pharmacies} pharmacies, {spec.months} months of {year})")
    with opened(ctx, create=True) as app:
        click.echo(f"2. ingesting into {app.store.url} …")
        report = ingest_file(app, str(city), progress=progress_wanted(False), errors_to=sys.stderr)
        click.echo(f"   {report.summary()}; {app.recorder.max_notification_id()} events in the log")
        totals = app.region_totals(admdvs, year)
        click.echo(f"3. settled {totals['settlements']} claims ({totals['refused']} refused by the pooling rules): "
                   f"total cost {totals['medfee']}, pooling fund {totals['fund']}, personal accounts "
                   f"{totals['acct']}, cash {totals['cash']}")
        click.echo("4. personal accounts and annual caps (5206) of a few members:")
        for psn_no in app.members_of(admdvs, f"{year}-12-31")[:: max(1, members // 4)][:4]:
            bal, cap_ = app.balance(psn_no), app.cap(psn_no, year)
            who = "retired" if cap_["psn_type"] == RETIRED else "in service"
            click.echo(f"   {psn_no}: balance {bal['balc']}; {who}, cap {cap_['cap']}, "
                       f"used {cap_['used']}, remaining {cap_['remaining']}, {cap_['visits']} visits")
        clearing_ = app.clearing(admdvs, year)
        first = clearing_["rows"][0]["fixmedins_code"]
        paid = app.prepayments(first, year)["rows"]
        click.echo(f"5. monthly prepayments: {len(paid)} months closed; {first} was paid "
                   f"{paid[-1]['cumulative_paid']} with {paid[-1]['cumulative_withheld']} withheld as deposit")
        click.echo("6. year-end clearing:")
        print_clearing(clearing_)
        balance_ = app.trial_balance()
        click.echo(f"7. journal: debits {balance_['debit']} = credits {balance_['credit']}")
        click.echo("8. audit (replay of the whole log):")
        result = run_audit(app)
    print_audit(result)
    sys.exit(0 if result.ok and not report.refused else 1)


@main.command("overdue")
@click.argument("admdvs")
@click.option("--as-of", "as_of", required=True, type=DAY, help="The day asked about, YYYY-MM-DD.")
@json_option
@click.pass_context
def overdue_cmd(ctx: click.Context, admdvs: str, as_of: datetime, as_json: bool) -> None:
    """Pharmacies' months not paid within 30 working days of receipt (医保办发〔2023〕4号 三（四））."""
    day = as_of.date()
    with opened(ctx) as app:
        result = overdue(app, admdvs, day)
    if as_json:
        emit(result)
        return
    click.echo(f"{admdvs} as of {day}: {len(result['rows'])} month(s) overdue or paid late")
    for r in result["rows"]:
        click.echo(f"  {r['fixmedins_code']} {r['month']}: received {r['received_on']}, due {r['due_on']}, "
                   + (f"paid {r['paid_on']}" if r["paid_on"] else "unpaid")
                   + f", {r['working_days']} working days ({r['working_days_late']} late) 〔{r['article']}〕")


@main.group()
def credentials() -> None:
    """Credentials of the online service's callers (issued by the bureau)."""


@credentials.command("issue")
@click.argument("paasid")
@click.option("--role", required=True, type=click.Choice(["institution", "operator", "regulator"]),
              help="institution (its paasid is its fixmedins_code), operator (bureau staff) or regulator.")
@json_option
@click.pass_context
def credentials_issue(ctx: click.Context, paasid: str, role: str, as_json: bool) -> None:
    """Issue PAASID's credential (replacing any earlier one) and print its secret, this once."""
    from ledger.services.credentials import Credentials

    with opened(ctx) as app:
        secret = Credentials.of(app).issue(paasid, role)
    if as_json:
        emit({"paasid": paasid, "role": role, "secret": secret})
    else:
        click.echo(f"paasid {paasid}\nrole   {role}\nsecret {secret}\n(the secret is not shown again)")


@credentials.command("revoke")
@click.argument("paasid")
@click.pass_context
def credentials_revoke(ctx: click.Context, paasid: str) -> None:
    """Revoke PAASID's credential: its requests are refused from now on."""
    from ledger.services.credentials import Credentials

    with opened(ctx) as app:
        Credentials.of(app).revoke(paasid)
    click.echo(f"revoked {paasid}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int,
              help="Worker processes (several on PostgreSQL; SQLite takes one writer).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the national platform's interface (POST /fsi/api/rsfComIfsService/callService)."""
    import os

    import uvicorn

    from ledger.adapters.service_tables import forget_unanswered

    if ctx.obj["db"]:
        os.environ["LEDGER_DB"] = ctx.obj["db"]
    store = Store.parse(ctx.obj["db"])
    engine = store.engine()
    forget_unanswered(store, engine)
    engine.dispose()
    uvicorn.run("ledger.entrypoints.http:create_app", factory=True, host=host, port=port, workers=workers,
                timeout_graceful_shutdown=30, access_log=False)


# ------------------------------------------------------------------ anchored heads and personal data


def _anchor_options(expect_head: str | None, trusted_key: str | None) -> dict[str, Any]:
    """``audit``'s ``expect`` and ``trusted`` from its options (a bad file is one line, exit 1)."""
    from ledger.services.anchor import AnchorError, expected_head, load_public_key

    try:
        return {"expect": None if expect_head is None else expected_head(expect_head),
                "trusted": None if trusted_key is None else load_public_key(trusted_key)}
    except AnchorError as e:
        fail(str(e))
        raise


def _export_options(key: str | None, pseudonym_key: str | None) -> dict[str, Any]:
    """``export``'s signing key and pseudonymiser from its options."""
    from ledger.services.anchor import AnchorError, load_private_key
    from ledger.services.pseudonyms import Pseudonymiser

    try:
        return {"key": None if key is None else load_private_key(key),
                "pseudonymise": None if pseudonym_key is None else Pseudonymiser.from_file(pseudonym_key)}
    except AnchorError as e:
        fail(str(e))
        raise


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
def keygen(file: str) -> None:
    """Write a new Ed25519 signing key to FILE and its public key to FILE.pub (PEM, as openssl would)."""
    from ledger.services.anchor import generate_key

    try:
        public = generate_key(file)
    except OSError as e:
        fail(f"{file}: {e.strerror or e}")
    click.echo(f"wrote {file} (keep it private) and {file}.pub; public key {public}")


@main.command()
@click.option("--key", type=click.Path(exists=True, dir_okay=False), help="Sign the head with this Ed25519 key.")
@click.option("--out", type=click.Path(dir_okay=False), help="Append the checkpoint to FILE (else print it).")
@click.pass_context
def checkpoint(ctx: click.Context, key: str | None, out: str | None) -> None:
    """Publish the chain head (position, hash, time), to be kept where the store cannot reach it."""
    from ledger.services.anchor import append_checkpoint, current_head

    signing = _export_options(key, None)["key"]
    with opened(ctx) as app:
        found = current_head(app)
    if signing is not None:
        found = found.signed(signing)
    if out is None:
        click.echo(json.dumps(found.as_dict()))
        return
    try:
        append_checkpoint(found, out)
    except OSError as e:
        fail(f"{out}: {e.strerror or e}")
    click.echo(f"checkpoint at position {found.position}, chain head {found.hash}, appended to {out}")


@main.command("report")
@click.argument("admdvs")
@click.argument("year", type=int)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="The HTML file to write.")
@click.option("--quiet", is_flag=True, help="No progress bar for the audit.")
@click.pass_context
def report_cmd(ctx: click.Context, admdvs: str, year: int, out: str, quiet: bool) -> None:
    """Write the year-end report of ADMDVS: one self-contained HTML file with the clearing, charts and audit."""
    from ledger.entrypoints.console.views import report

    with opened(ctx) as app:
        audit_ = run_audit(app, progress=not quiet)
        html = report(app, admdvs, year, audit_)
    Path(out).write_text(html, encoding="utf-8")
    click.echo(f"wrote {out}: {admdvs} {year}, audit {'passed' if audit_.ok else 'FAILED'}")
