"""Closing periods: a month credits the accounts and prepays institutions; a year clears them.

A month closes once per region. The accounts are credited first, member by member in
batches (a crash part-way is resumed by running the close again: a member is credited for
a month at most once); then the prepayment is computed from the institutions' movements
not yet prepaid and recorded with the close. A year clears once, from the months the
region recorded, and settles each institution's final amount against its prepayments.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from ledger.domain.ids import member_id, region_id
from ledger.domain.members import Member
from ledger.domain.regions import Region
from ledger.errors import InputError, PeriodError
from ledger.money import ZERO, round_fen
from ledger.periods import month_end
from ledger.rules.clearing import (
    clear_jiaozuo_4_1,
    clear_kaifeng_3_3,
    deposit_return_rate,
    specialist_baseline_jiaozuo_4_1,
)
from ledger.rules.payments import KAIFENG, Actual, prepay_jiaozuo_4_2, prepay_kaifeng_3_2
from ledger.rules.reader import Reader

if TYPE_CHECKING:
    from ledger.domain.institutions import Institution
    from ledger.exchange import messages as m
    from ledger.policy.parameters import Policy
    from ledger.services.application import OutpatientPooling
    from ledger.services.handlers import Services

CREDIT_BATCH = 2000
"""Members credited per transaction: a crash part-way loses at most one batch, which the rerun credits."""


def _scheme(policy: Policy, field: str) -> str:
    if not policy.has("payment_scheme"):
        raise InputError(field, f"no payment scheme for institutions is in force in region {policy.admdvs}",
                         code="no_policy_in_force")
    return str(policy.get("payment_scheme").value)


def close_month(app: OutpatientPooling, msg: m.MonthClosed, *, refuse_repeat: bool = False) -> bool:
    """month.closed: credit every active member's account, then prepay the region's institutions."""
    s = app.services()
    region = s.uow.get(Region, region_id(msg.admdvs)) or Region.open(msg.admdvs)
    if region.already_received(msg.key(), msg.fingerprint(), "month") and not refuse_repeat:
        s.uow.abandon()
        return False
    s.check_region(msg.admdvs)
    region.check_can_close_month(msg.month)
    end = month_end(msg.month)
    if msg.date < end:
        raise PeriodError("date", f"{msg.month} cannot close before its last day {end}", code="month_not_over")
    policy = s.policy(msg.admdvs, end)
    scheme = _scheme(policy, "month")
    budget = None
    if scheme == KAIFENG:
        budget = region.budgets.get(msg.month[:4])
        if budget is None:
            raise PeriodError("month", f"no budget.set for {msg.admdvs} {msg.month[:4]}", code="no_budget")
    s.uow.abandon()

    credits = _credit_accounts(app, msg, policy)

    app.read_models.catch_up()
    through = app.recorder.max_notification_id() or 0
    actuals = [Actual(r["key"], r["count"], r["visits"], r["medfee"], r["fund"], r["acct"])
               for r in app.pending_actuals(msg.admdvs, end.isoformat(), through)]
    reader = Reader(policy)
    if scheme == KAIFENG:
        prepayments = prepay_kaifeng_3_2(actuals, budget or ZERO, reader)
    else:
        prepayments = prepay_jiaozuo_4_2(actuals, reader)

    s = app.services()
    region = s.region(msg.admdvs)
    s.record_policy(policy)
    region.close_month(day=msg.date, month=msg.month, through_position=through, scheme=scheme,
                       policy_version=policy.version, credits=credits,
                       payments=[p.as_record() for p in prepayments], key=msg.key(), fingerprint=msg.fingerprint())
    s.uow.commit()
    return True


def _credit_accounts(app: OutpatientPooling, msg: m.MonthClosed, policy: Policy) -> dict[str, Any]:
    """信政办〔2022〕23号 第八条、第十一条: each active member's monthly credit, once per month."""
    end = month_end(msg.month)
    app.read_models.catch_up()
    members = app.members_of(msg.admdvs, end.isoformat())
    reader = Reader(policy)
    count, total = 0, ZERO
    for i in range(0, len(members), CREDIT_BATCH):
        s = app.services()
        for psn_no in members[i:i + CREDIT_BATCH]:
            member = s.uow.get(Member, member_id(psn_no))
            if member is None or msg.month in member.credited:
                continue
            due = member.credit_due(msg.month, reader)
            if not due.amount:
                continue
            member.credit_month(day=end, month=msg.month, amount=due.amount, psn_type=due.psn_type,
                                contribution_base=due.contribution_base, policy_version=policy.version,
                                article=due.article)
            count += 1
            total += due.amount
        s.record_policy(policy)
        s.uow.commit()
    return {"members": count, "amount": total}


def close_year(app: OutpatientPooling, msg: m.YearClosed, *, refuse_repeat: bool = False) -> bool:
    """year.closed: clear each institution's year against what it was prepaid (POLICY.md §7)."""
    s = app.services()
    s.check_region(msg.admdvs)
    region = s.region(msg.admdvs)
    if region.already_received(msg.key(), msg.fingerprint(), "year") and not refuse_repeat:
        s.uow.abandon()
        return False
    region.check_can_close_year(msg.year)
    policy = s.policy(msg.admdvs, month_end(f"{msg.year}-12"))
    scheme = _scheme(policy, "year")
    reader = Reader(policy)
    totals = _year_totals(region, msg.year)
    summary: dict[str, Any] = {"budget": region.budgets.get(str(msg.year)), "usage_rate": None, "tier": None}
    finals: dict[str, tuple[Decimal, str]] = {}
    if scheme == KAIFENG:
        if summary["budget"] is None:
            raise PeriodError("year", f"no budget.set for {msg.admdvs} {msg.year}", code="no_budget")
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
        returned = round_fen(t["withheld"] * deposit_return_rate(score, reader)) if score is not None else None
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
                         code="category_missing")
    if category in p.value("exempt_categories"):
        return None
    if category == "specialist":
        return specialist_baseline_jiaozuo_4_1(institution.cost_history, institution.covid_depressed_years, year,
                                               institution.provincial_class_average, p)
    baselines = p.value("cost_baselines")
    if category not in baselines:
        raise InputError("category", f"no baseline for category {category}", code="category_missing")
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
        rate = deposit_return_rate(msg.score, reader)
        region.return_deposit(day=msg.date, year=msg.year, fixmedins_code=msg.fixmedins_code, score=msg.score,
                              rate=rate, withheld=held["withheld"], returned=round_fen(held["withheld"] * rate),
                              article=reader.cited("deposit_return_scale").citation(), key=key,
                              fingerprint=msg.fingerprint())
    return True
