"""Closing periods: a month credits the accounts and prepays institutions; a year clears them.

A month closes once per region. The accounts are credited first, a page of members a
transaction (a crash part-way is resumed by running the close again, from the last member
the log shows credited; a member is credited for a month at most once), and the close
reports the credits the log holds for the month, so a resumed close records what a clean one
would. Then the prepayment is computed from the institutions' movements not yet prepaid and
recorded with the close. Crediting and prepaying are separate duties (信政办〔2022〕23号 第八条
credits the member's own contribution whatever the institutions' arrangement): a prepayment
that cannot be computed yet is recorded as pending with its reason, and booked as
``Region.MonthPrepaid`` when the missing budget arrives. A year clears once, from the months
the region prepaid, and settles each institution's final amount against its prepayments.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.adapters.seam import Appended, Quiet
from ledger.domain.ids import region_id
from ledger.domain.members import Member
from ledger.domain.regions import Region
from ledger.errors import InputError, PeriodError
from ledger.money import ZERO, round_fen
from ledger.periods import month_end
from ledger.refusals import RefusalCode
from ledger.rules.clearing import (
    clear_jiaozuo_4_1,
    clear_kaifeng_3_3,
    deposit_return_rate,
    specialist_baseline_jiaozuo_4_1,
)
from ledger.rules.payments import KAIFENG, Actual, Prepayment, prepay_jiaozuo_4_2, prepay_kaifeng_3_2
from ledger.rules.reader import Reader

if TYPE_CHECKING:
    from collections.abc import Callable

    from ledger.domain.institutions import Institution
    from ledger.exchange import messages as m
    from ledger.policy.parameters import Policy
    from ledger.services.ports import PeriodRun
    from ledger.services.unit_of_work import PeriodQueries, Services

CREDIT_BATCH = 2000
"""Members read and credited per transaction: a crash part-way loses at most one page, which the rerun credits."""
ALONGSIDE_FROM = 50_000
"""Members a close reads before a second process catches the read models up with its credits meanwhile.

A smaller close is over in a few seconds: the second interpreter takes about half a second to
start, which the close would wait for at its end, for little.
"""

NEWLY_DUE = (Member.Enrolled.TOPIC, Member.Resumed.TOPIC)
"""A member's events that can make it due a month's credit a close's pages did not see it due."""
LOOKS_AGAIN = 10
"""How many times a close looks again for members enrolled meanwhile before its record is left to the caller's retry."""
NO_SCHEME, NO_BUDGET, EARLIER_PENDING = (RefusalCode.NO_PAYMENT_SCHEME, RefusalCode.NO_BUDGET,
                                        RefusalCode.EARLIER_MONTH_PENDING)
WAITING = (NO_BUDGET, EARLIER_PENDING)
"""Pending reasons a later message resolves; a month with no scheme in force stays unprepaid by this ledger."""


def _newly_due(msg: m.MonthClosed) -> Callable[[Member.Enrolled | Member.Resumed], bool]:
    """Whether such an event can make a member due the month's credit: dated in or before it, in its region.

    A resumption does not name the region; any may be the region's. An enrolment in another
    region, or one dated after the month (the next month's, booked while this one closes),
    cannot, so the close need not look again for it.
    """
    end = month_end(msg.month)
    return lambda event: event.day <= end and getattr(event, "admdvs", msg.admdvs) == msg.admdvs


def _scheme(policy: Policy, field: str) -> str:
    if not policy.has("payment_scheme"):
        raise InputError(field, f"no payment scheme for institutions is in force in region {policy.admdvs}",
                         code=RefusalCode.NO_POLICY_IN_FORCE)
    return str(policy.get("payment_scheme").value)


def close_month(app: PeriodRun, msg: m.MonthClosed, *, refuse_repeat: bool = False,
                between_pages: Callable[[], None] | None = None) -> bool:
    """month.closed: credit every active member's account, then prepay the region's institutions.

    ``between_pages`` runs after each page of credits is committed: a service holding a lock
    for the close lets its other requests in there.
    """
    s = app.services()
    region = s.uow.get(Region, region_id(msg.admdvs)) or Region.open(msg.admdvs)
    if region.already_received(msg.key(), msg.fingerprint(), "month") and not refuse_repeat:
        s.uow.abandon()
        return False
    s.check_region(msg.admdvs)
    region.check_can_close_month(msg.month)
    end = month_end(msg.month)
    if msg.date < end:
        raise PeriodError("date", f"{msg.month} cannot close before its last day {end}",
                          code=RefusalCode.MONTH_NOT_OVER)
    policy = s.policy(msg.admdvs, end)
    since = region.months[max(region.months)]["through_position"] if region.months else 0
    s.uow.abandon()

    looked = _credit_accounts(app, msg, policy, since, between_pages or (lambda: None))
    looks_left = LOOKS_AGAIN
    while True:
        try:
            _record_close(app, msg, policy, looked)
            return True
        except Appended:
            # Another writer enrolled or resumed a member since the last look: look again, and credit it.
            looks_left -= 1
            if not looks_left:
                raise  # the caller runs the whole close again
            looked = _credit_written_since(app, msg, policy, looked)


def _record_close(app: PeriodRun, msg: m.MonthClosed, policy: Policy, looked: int) -> None:
    """The close's record: the month's credits as the log holds them, and the prepayment.

    Written only if no member was enrolled or resumed in the month's region, dated in the
    month or before, past ``looked``, the position of the credits' last look: another process
    could have enrolled a member due the month there, its batch reading the region before this
    record, so not crediting the month itself.
    """
    app.read_models.catch_up()
    credits = app.credits_of_month(msg.admdvs, msg.month)
    through = app.recorder.max_notification_id() or 0

    s = app.services()
    region = s.region(msg.admdvs)
    pending = _why_pending(region, policy, msg.month)
    counted_from = _counted_from(policy)
    payments = [] if pending else _prepay(app, region, policy, msg.month, through, counted_from, None)
    s.record_policy(policy)
    region.close_month(day=msg.date, month=msg.month, through_position=through,
                       scheme=policy.get("payment_scheme").value if policy.has("payment_scheme") else NO_SCHEME,
                       policy_version=policy.version, credits=credits, payments=[p.as_record() for p in payments],
                       counted_from=counted_from, pending=pending, key=msg.key(), fingerprint=msg.fingerprint())
    s.uow.quiet = Quiet(looked, NEWLY_DUE, _newly_due(msg))
    s.uow.commit()


def _counted_from(policy: Policy) -> str | None:
    """The first service day the scheme in force pays for: the day its ``payment_scheme`` value took effect.

    焦医保〔2024〕32号 四（一）「自2024年8月1日起」: a July visit is not the scheme's, even when it
    is booked after July closed.
    """
    return policy.get("payment_scheme").since.isoformat() if policy.has("payment_scheme") else None


def _why_pending(region: Region, policy: Policy, month: str) -> dict[str, str] | None:
    """Why the month's prepayment cannot be computed now, or None when it can."""
    if not policy.has("payment_scheme"):
        return {"code": NO_SCHEME, "article": "",
                "reason": f"no payment scheme for institutions is in force in region {region.admdvs} "
                          f"on {month_end(month)}"}
    waiting = [m for m in region.pending_months() if m < month and region.months[m]["pending"]["code"] in WAITING]
    if waiting:
        return {"code": EARLIER_PENDING, "article": "",
                "reason": f"{waiting[0]} waits for its prepayment; months are prepaid in order"}
    if policy.get("payment_scheme").value == KAIFENG and month[:4] not in region.budgets:
        return {"code": NO_BUDGET, "article": policy.get("budget_months").citation(),
                "reason": f"no budget.set for {region.admdvs} {month[:4]}: the month's budget is the year's ÷ 12"}
    return None


def _prepay(app: PeriodQueries, region: Region, policy: Policy, month: str, through: int,
            counted_from: str | None, after: tuple[str, int] | None) -> list[Prepayment]:
    """The month's prepayments under the scheme in force (POLICY.md §6)."""
    app.catch_up()
    actuals = [Actual(r["key"], r["count"], r["visits"], r["medfee"], r["fund"], r["acct"])
               for r in app.pending_actuals(region.admdvs, month_end(month).isoformat(), through, counted_from,
                                            after)]
    reader = Reader(policy)
    if policy.get("payment_scheme").value == KAIFENG:
        return prepay_kaifeng_3_2(actuals, region.budgets[month[:4]], reader)
    return prepay_jiaozuo_4_2(actuals, reader)


def prepay_pending(s: Services, region: Region, day: date, resolved_by: str) -> None:
    """Book, in month order, the prepayments of closed months that waited for what just arrived.

    Each is computed exactly as its close would have computed it: from the movements the close
    counted (dated to the month's end, known at its position), under the policy of its last day.
    The months prepaid here are not yet marked in the read models, so each later one leaves
    out the earlier one's movements.
    """
    after: tuple[str, int] | None = None
    for month in region.pending_months():
        facts = region.months[month]
        if facts["pending"]["code"] not in WAITING:
            continue
        policy = s.policy(region.admdvs, month_end(month))
        if _why_pending(region, policy, month) is not None:
            return
        payments = _prepay(s.periods(), region, policy, month, facts["through_position"], facts["counted_from"], after)
        s.record_policy(policy)
        region.prepay_month(day=day, month=month, through_position=facts["through_position"],
                            counted_from=facts["counted_from"], scheme=policy.get("payment_scheme").value,
                            policy_version=policy.version, payments=[p.as_record() for p in payments],
                            resolves=facts["pending"]["code"], resolved_by=resolved_by)
        after = (month_end(month).isoformat(), facts["through_position"])


def _credit_accounts(app: PeriodRun, msg: m.MonthClosed, policy: Policy, since: int,
                     between_pages: Callable[[], None]) -> int:
    """信政办〔2022〕23号 第八条、第十一条: each active member's monthly credit, once per month.

    The members are read a page at a time in id order, each page's aggregates in one
    go, and each page's credits are booked in a transaction of its own, so other writers
    commit between them. A close stopped part-way resumes after the last member the log shows
    credited for the month (no credit is booked before ``since``, the previous close); a
    member already credited is passed over all the same. Last, without letting anyone in, it
    looks again at every member written to since the pages began: one enrolled meanwhile
    behind the page being read would be missed otherwise. Returns the log's position at that look.

    A long close has the read models read its credits as it books them, in a second process
    (:data:`ALONGSIDE_FROM`), so that little is left to read before its record.
    """
    on = month_end(msg.month)
    app.read_models.catch_up()
    began = app.recorder.max_notification_id() or 0
    after = app.last_credited(msg.admdvs, msg.month, since) or ""
    reader = Reader(policy)
    read = 0
    with ExitStack() as alongside:
        for ids, offered in app.pages_to_credit(msg.admdvs, on.isoformat(), after, msg.month, CREDIT_BATCH):
            _credit(app, msg, policy, reader, ids, offered)
            read += len(ids)
            if read >= ALONGSIDE_FROM and read - len(ids) < ALONGSIDE_FROM:
                alongside.enter_context(app.projecting_alongside())
            between_pages()
    return _credit_written_since(app, msg, policy, began)


def _credit_written_since(app: PeriodRun, msg: m.MonthClosed, policy: Policy, position: int) -> int:
    """Credit those due of the members written to past ``position``; returns the position looked through."""
    looked = app.recorder.max_notification_id() or 0
    written = app.members_written_since(position)
    reader = Reader(policy)
    for i in range(0, len(written), CREDIT_BATCH):
        _credit(app, msg, policy, reader, written[i:i + CREDIT_BATCH])
    return looked


def _credit(app: PeriodRun, msg: m.MonthClosed, policy: Policy, reader: Reader, ids: list[UUID],
            offered: dict[UUID, tuple[dict[str, Any], int]] | None = None) -> None:
    """Credit those of ``ids`` in the close's region due the month and not yet credited, in one transaction.

    A member is read back from its events only when it must be: most are credited from their
    standing as the read models hold it (``standings_to_credit``), which books the same event
    at the same version. The others are read whole: one the process has cached, one written
    past what the read models have read, one who has left (the credit is paid out with the
    balance), and one whose credit is due a snapshot, which needs the whole member.
    ``offered``: the standings of ``ids``, when the caller has read them already (``pages_to_credit``).
    """
    on = month_end(msg.month)
    s = app.services()
    uncached = {i for i in ids if i not in s.uow.cache}
    if offered is None:
        offered = app.standings_to_credit(uncached, msg.month) if uncached else {}
    partial = {i: Member.standing_only(i, version, standing) for i, (standing, version) in offered.items()
               if i in uncached and standing["left"] is None and not s.uow.store.would_snapshot(Member, version, 1)}
    s.uow.load(Member, [i for i in ids if i not in partial])
    for aggregate_id in ids:
        member = partial.get(aggregate_id) or s.uow.get(Member, aggregate_id)
        if member is None or member.admdvs != msg.admdvs or msg.month in member.credited:
            continue
        due = member.credit_due(msg.month, reader)
        if not due.amount:
            continue
        member.credit_month(day=on, month=msg.month, amount=due.amount, psn_type=due.psn_type,
                            contribution_base=due.contribution_base, policy_version=policy.version,
                            article=due.article)
        if aggregate_id in partial:
            s.uow.add_partial(member)
    s.record_policy(policy)
    s.uow.commit()


def close_year(app: PeriodRun, msg: m.YearClosed, *, refuse_repeat: bool = False) -> bool:
    """year.closed: clear each institution's year against what it was prepaid (POLICY.md §7)."""
    s = app.services()
    s.check_region(msg.admdvs)
    region = s.region(msg.admdvs)
    if region.already_received(msg.key(), msg.fingerprint(), "year") and not refuse_repeat:
        s.uow.abandon()
        return False
    region.check_can_close_year(msg.year)
    waiting = [m for m in region.pending_months() if m[:4] <= str(msg.year)
               and region.months[m]["pending"]["code"] in WAITING]
    if waiting:
        reason = region.months[waiting[0]]["pending"]["reason"]
        raise PeriodError("year", f"{waiting[0]} is closed but not yet prepaid ({reason})",
                          code=RefusalCode.PREPAYMENT_PENDING)
    policy = s.policy(msg.admdvs, month_end(f"{msg.year}-12"))
    scheme = _scheme(policy, "year")
    if scheme != KAIFENG:
        _check_baselines_set(policy, msg.year)
    reader = Reader(policy)
    totals = _year_totals(region, msg.year)
    summary: dict[str, Any] = {"budget": region.budgets.get(str(msg.year)), "usage_rate": None, "tier": None}
    finals: dict[str, tuple[Decimal, str]] = {}
    if scheme == KAIFENG:
        if summary["budget"] is None:
            raise PeriodError("year", f"no budget.set for {msg.admdvs} {msg.year}", code=RefusalCode.NO_BUDGET)
        result = clear_kaifeng_3_3({c: t["actual"] for c, t in totals.items()}, summary["budget"], reader)
        summary["usage_rate"] = str(result.usage_rate.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))
        summary["tier"] = result.tier
        summary["sharing_ratio"] = None if result.sharing_ratio is None else str(result.sharing_ratio)
        finals = {c: (amount, result.tier) for c, amount in result.finals.items()}
    else:
        for code, t in totals.items():
            finals[code] = _clear_jiaozuo(s, code, t, msg.year, reader)
    rows = []
    for code, t in totals.items():
        institution = s.institution(code)
        final, basis = finals[code]
        score = institution.assessments.get(str(msg.year))
        returned = round_fen(t["withheld"] * deposit_return_rate(score, reader)[0]) if score is not None else None
        rows.append({"fixmedins_code": code, "basis": basis, "visits": t["visits"], "medfee": t["medfee"],
                     "actual": t["actual"], "final_amount": final, "prepaid": t["granted"],
                     "due": final - t["granted"], "deposit_withheld": t["withheld"], "deposit_returned": returned,
                     "score": score})
    summary["actual"] = sum((r["actual"] for r in rows), ZERO)
    summary["final_amount"] = sum((r["final_amount"] for r in rows), ZERO)
    s.record_policy(policy)
    region.close_year(day=msg.date, year=msg.year, scheme=scheme, policy_version=policy.version, summary=summary,
                      rows=rows, key=msg.key(), fingerprint=msg.fingerprint())
    s.uow.commit()
    return True


BASELINES_ARTICLE = "焦医保〔2024〕32号 四（一）3"


def _check_baselines_set(policy: Policy, year: int) -> None:
    """焦医保〔2024〕32号 四（一）3: the baselines and the growth cap are set for each year, never carried over.

    「每年核定一次门诊次均费用基数和次均费用增长率上限等指标，并在当年4月底之前以书面形式通知」.
    How the bureau sets them (the class's previous-year average, or its three-year average when
    that is higher; a class of one institution as a specialist) is its determination, read from
    its notice (a dated policy file), not derived by the ledger.
    """
    missing = [name for name in ("cost_baselines", "cost_growth_cap") if not policy.has(name)]
    if missing:
        raise PeriodError("year", f"no {' or '.join(missing)} in force for {policy.admdvs} in {year}: they are "
                          "set once a year (「每年核定一次」); book the bureau's notice for the year as a dated "
                          "policy file",
                          code=RefusalCode.BASELINES_MISSING, article=BASELINES_ARTICLE)


def _year_totals(region: Region, year: int) -> dict[str, dict[str, Any]]:
    """Per institution, the year's prepaid months added up."""
    totals: dict[str, dict[str, Any]] = {}
    for month in region.months_of(year):
        for row in region.months[month]["payments"]:
            t = totals.setdefault(row["fixmedins_code"], {"visits": 0, "medfee": ZERO, "actual": ZERO,
                                                          "granted": ZERO, "withheld": ZERO})
            t["visits"] += row["visits"]
            t["medfee"] += row["medfee"]
            t["actual"] += row["actual"]
            t["granted"] += row["paid"] + row["withheld"]
            t["withheld"] += row["withheld"]
    return dict(sorted(totals.items()))


def _clear_jiaozuo(s: Services, code: str, t: dict[str, Any], year: int, p: Reader) -> tuple[Decimal, str]:
    """One institution's final amount under Jiaozuo's conditional fee-for-service."""
    institution = s.institution(code)
    if institution.kind == "pharmacy":
        p.flag("pharmacy_visit_count")
        return t["actual"], "pharmacy: fund share paid in full"
    found = jiaozuo_baseline(institution, year, p)
    if found is None:
        return t["actual"], f"{institution.category}: exempt"
    baseline, how = found
    final, basis = clear_jiaozuo_4_1(t["visits"], t["medfee"], t["actual"], baseline, p,
                                     institution.reviews.get(str(year)))
    return final, f"{how}: {basis}"


def jiaozuo_baseline(institution: Institution, year: int, p: Reader) -> tuple[Decimal, str] | None:
    """焦医保〔2024〕32号 四（一）: a hospital's cost-per-visit baseline and how it was set; None if exempt."""
    category = institution.category
    if category is None:
        raise InputError("category", f"{institution.fixmedins_code} has no Jiaozuo cost-baseline category",
                         code=RefusalCode.CATEGORY_MISSING)
    if category in p.value("exempt_categories"):
        return None
    if category == "specialist":
        return specialist_baseline_jiaozuo_4_1(institution.cost_history, institution.covid_depressed_years, year,
                                               institution.provincial_class_average, p)
    baselines = p.value("cost_baselines")
    if category not in baselines:
        # 「如以上类别的医疗机构仅1家，按其他专科医疗机构年度门诊次均费用基数核定办法处理」: the bureau's
        # notice says which classes it set; an institution of a class it did not is its to place.
        raise InputError("category", f"the notice for {year} sets no baseline for category {category} "
                         f"({institution.fixmedins_code}); a class of one institution is set as a specialist",
                         code=RefusalCode.CATEGORY_MISSING, article="焦医保〔2024〕32号 四（一）1")
    return baselines[category], category


def assess_institution(s: Services, msg: m.InstitutionAssessed) -> bool:
    """institution.assessed: the score; after the clearing it returns the held deposit at once."""
    institution = s.institution(msg.fixmedins_code)
    key = f"assessment/{msg.key()}"
    if institution.already_received(key, msg.fingerprint(), "year"):
        return False
    region = s.region(institution.admdvs)
    held = region.deposits.get(str(msg.year), {}).get(msg.fixmedins_code)
    institution.assess(msg.date, msg.year, msg.score, key, msg.fingerprint())
    if region.year_closed(msg.year) and held is not None and held["returned"] is None:
        # The scale in force when the year was cleared, as the clearing itself would have used it.
        reader = Reader(s.policy(institution.admdvs, month_end(f"{msg.year}-12")))
        rate, cited = deposit_return_rate(msg.score, reader)
        region.return_deposit(day=msg.date, year=msg.year, fixmedins_code=msg.fixmedins_code, score=msg.score,
                              rate=rate, withheld=held["withheld"], returned=round_fen(held["withheld"] * rate),
                              article=cited, key=key, fingerprint=msg.fingerprint())
    return True
