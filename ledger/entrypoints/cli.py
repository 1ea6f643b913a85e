"""The ``ledger`` command: an edge that parses arguments, calls the application and prints.

Every command takes the store from ``--db URL`` or ``LEDGER_DB`` (default ``./ledger.db``).
``--json`` prints the exchange contract of DESIGN.md §3: amounts as decimal strings.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ledger.errors import InputError, LedgerError
from ledger.exchange.messages import MESSAGE_TYPES, MessageError, json_schema, parse_message, validate_message
from ledger.rules.adjudication import SETLINFO_FIELDS
from ledger.rules.facts import RETIRED
from ledger.services.application import BOOKED, PRESENT, OutpatientPooling
from ledger.services.audit import AuditReport, export_log
from ledger.services.audit import audit as run_audit
from ledger.services.bootstrap import bootstrap
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


def fail(message: str) -> None:
    """Print an error and exit with status 1."""
    click.echo(f"ledger: {message}", err=True)
    sys.exit(1)


@contextmanager
def opened(ctx: click.Context) -> Iterator[OutpatientPooling]:
    """The application on the chosen store; errors become one line and exit status 1."""
    app = None
    try:
        app = bootstrap(ctx.obj["db"])
        yield app
    except InputError as e:
        fail(describe(e))
    except LedgerError as e:
        fail(str(e))
    finally:
        if app is not None:
            app.close()


@click.group()
@click.option("--db", envvar="LEDGER_DB", default=None, metavar="URL",
              help="File path, sqlite:///path or postgresql://… (default ./ledger.db).")
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """yibao-ledger: the claims ledger of employee outpatient pooling (职工医保门诊统筹)."""
    ctx.obj = {"db": db}


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--batch", default=200, show_default=True, help="Messages per transaction.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def ingest(ctx: click.Context, file: str, batch: int, quiet: bool) -> None:
    """Book every message of FILE (JSON lines); refused lines are reported and skipped."""
    with opened(ctx) as app:
        report = ingest_file(app, file, batch_size=batch, progress=not quiet, errors_to=sys.stderr)
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


def _read_messages(file: str) -> list[Any]:
    messages = []
    with open(file, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if raw.strip():
                try:
                    messages.append(parse_message(raw))
                except MessageError as e:
                    fail(f"{file}:{lineno}: {e}")
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
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--as-of: {value!r} is not a date YYYY-MM-DD")
    return None


@main.command()
@click.argument("psn_no")
@click.option("--as-of", help="Effective date YYYY-MM-DD.")
@click.option("--known-at", help="What the ledger knew at a log position or an ISO timestamp.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def balance(ctx: click.Context, psn_no: str, as_of: str | None, known_at: str | None, as_json: bool) -> None:
    """The personal-account balance of PSN_NO."""
    with opened(ctx) as app:
        result = app.balance(psn_no, _date(as_of), known_at)
    if as_json:
        emit(result)
    else:
        click.echo(f"{psn_no} balance {result['balc']}")


@main.command()
@click.argument("psn_no")
@click.option("--year", type=int, required=True)
@click.option("--as-of", help="Effective date YYYY-MM-DD.")
@click.option("--known-at", help="What the ledger knew at a log position or an ISO timestamp.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def cap(ctx: click.Context, psn_no: str, year: int, as_of: str | None, known_at: str | None, as_json: bool) -> None:
    """Annual cap usage of PSN_NO (5206): cap, used, remaining."""
    with opened(ctx) as app:
        result = app.cap(psn_no, year, _date(as_of), known_at)
    if as_json:
        emit(result)
    else:
        click.echo(f"{psn_no} {year}: cap {result['cap']}, used {result['used']}, remaining {result['remaining']}, "
                   f"{result['visits']} visits, deductible paid {result['deductible_paid']}")


@main.command()
@click.argument("psn_no")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
        fail(str(e))
    with opened(ctx) as app:
        outcome = app.close_period(msg, refuse_repeat=True)
    if outcome not in (BOOKED, PRESENT):
        fail(describe(outcome))  # type: ignore[arg-type]
    click.echo(f"{raw['type']} {raw['admdvs']} {raw.get('month', raw.get('year'))}: done")


@main.command("close-month")
@click.argument("admdvs")
@click.argument("month")
@click.option("--date", "day", help="The close's date (default: the month's last day).")
@click.pass_context
def close_month(ctx: click.Context, admdvs: str, month: str, day: str | None) -> None:
    """Close MONTH (YYYY-MM) for ADMDVS: credit accounts and prepay institutions."""
    from ledger.periods import month_end

    try:
        end = month_end(month)
    except ValueError as e:
        fail(str(e))
    _run_period(ctx, {"type": "month.closed", "date": day or end.isoformat(), "admdvs": admdvs, "month": month})


@main.command("close-year")
@click.argument("admdvs")
@click.argument("year", type=int)
@click.option("--date", "day", help="The clearing's date (default: 31 December).")
@click.pass_context
def close_year(ctx: click.Context, admdvs: str, year: int, day: str | None) -> None:
    """Clear YEAR for ADMDVS: each institution's final amount against its prepayments."""
    _run_period(ctx, {"type": "year.closed", "date": day or f"{year}-12-31", "admdvs": admdvs, "year": year})


@main.command()
@click.argument("fixmedins_code")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
@click.option("--year", type=int, required=True)
@click.option("--known-at", help="What the ledger knew at a log position or an ISO timestamp.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
@click.argument("year", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
        count = app.read_models.rebuild(progress=not quiet)
    click.echo(f"rebuilt the read models from {count} events")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_context
def export(ctx: click.Context, file: str) -> None:
    """Write the whole log to FILE as JSON lines, each hash-chained to the one before, then the chain head."""
    with opened(ctx) as app:
        count, head = export_log(app, file)
    click.echo(f"exported {count} events to {file}; chain head {head}")


@main.command("audit")
@click.option("--from", "source", type=click.Path(exists=True, dir_okay=False), help="Audit an export file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def audit_cmd(ctx: click.Context, source: str | None, as_json: bool, quiet: bool) -> None:
    """Replay the log: chain, rebuild, re-adjudication, journal and read models; exit 1 on any difference."""
    if source is not None:
        report = run_audit(export=source, progress=not quiet)
    else:
        with opened(ctx) as app:
            report = run_audit(app, progress=not quiet)
    if as_json:
        emit(report.as_dict())
    else:
        print_audit(report)
    sys.exit(0 if report.ok else 1)


def print_audit(report: AuditReport) -> None:
    """The audit report for a person."""
    click.echo(f"audit of {report.source}: {report.events} events, chain head {report.chain_head}")
    click.echo(f"  settlements re-adjudicated: {report.settlements_replayed}")
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
@click.argument("year", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
@click.option("--seed", default=7, show_default=True)
@click.option("--dir", "folder", default="demo", show_default=True, help="Where the city's messages are written.")
@click.pass_context
def demo(ctx: click.Context, admdvs: str, members: int, year: int, seed: int, folder: str) -> None:
    """A demo city-year: generate, ingest and settle, close twelve months, clear the year, audit."""
    from ledger.demo.city import CitySpec, write_city

    spec = CitySpec(admdvs=admdvs, members=members, year=year, seed=seed)
    Path(folder).mkdir(parents=True, exist_ok=True)
    city = Path(folder) / f"city-{admdvs}-{year}-{seed}.jsonl"
    lines = write_city(spec, city)
    click.echo(f"1. generated {city}: {lines} messages ({members} members, {spec.hospitals} hospitals, "
               f"{spec.pharmacies} pharmacies, {spec.months} months of {year})")
    with opened(ctx) as app:
        click.echo(f"2. ingesting into {app.store.url} …")
        report = ingest_file(app, str(city), progress=True, errors_to=sys.stderr)
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


@main.group()
def credentials() -> None:
    """Credentials of the online service's callers (issued by the bureau)."""


@credentials.command("issue")
@click.argument("paasid")
@click.option("--role", required=True, type=click.Choice(["institution", "operator", "regulator"]),
              help="institution (its paasid is its fixmedins_code), operator (bureau staff) or regulator.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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

    if ctx.obj["db"]:
        os.environ["LEDGER_DB"] = ctx.obj["db"]
    uvicorn.run("ledger.entrypoints.http:create_app", factory=True, host=host, port=port, workers=workers,
                timeout_graceful_shutdown=30)


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
