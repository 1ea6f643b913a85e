"""Read-only questions the console and the year-end report ask, beside the application's own.

Each answer is built from the application's query methods and the read models (nothing here
writes), with amounts as exact Decimals, so a page and the CLI's ``--json`` give the same
figures. The watch list's thresholds come from a dated parameter file of their own
(``ledger/policy/watch/``), every value marked assumed: the documents ask for the watching
but give no numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select

from ledger.domain.ids import institution_id, region_id
from ledger.domain.institutions import Institution
from ledger.domain.regions import Region
from ledger.errors import InputError, UnknownError
from ledger.money import ZERO, round_fen
from ledger.policy.files import POLICY_DIR, load_policy_file
from ledger.policy.parameters import Cited, PolicyLibrary, RegionProfile, Source
from ledger.projections.base import yuan
from ledger.projections.runner import EventSource
from ledger.projections.settlements import settlements_index, settlements_movements
from ledger.refusals import RefusalCode
from ledger.rules.reader import Reader
from ledger.services.closing import jiaozuo_baseline

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from ledger.services.application import OutpatientPooling

WATCH_FILE = POLICY_DIR / "watch" / "watch-thresholds.yaml"
SETTLED = "yibao:Settlement.Settled"
RATE = Decimal("0.0001")
SEARCH_LIMIT = 50


def _ratio(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """``part ÷ whole`` to four places, or None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATE, rounding=ROUND_HALF_UP)


def _per(amount: Decimal, count: int) -> Decimal | None:
    """An amount per visit, to the fen."""
    if not count:
        return None
    return round_fen(amount / count)


def _connect(app: OutpatientPooling) -> Connection:
    app.read_models.catch_up()
    return app.engine.connect()


def _monthly(conn: Connection, *conditions: Any, per_institution: bool = False) -> list[dict[str, Any]]:
    """Movements added up per month of their effective date (and institution): bills, visits and the money."""
    m = settlements_movements.c
    keys = [func.substr(m.day, 1, 7), *([m.fixmedins_code] if per_institution else [])]
    rows = conn.execute(select(*keys, func.sum(m.count), func.sum(m.visits), func.sum(m.medfee), func.sum(m.fund),
                               func.sum(m.acct), func.sum(m.cash))
                        .where(and_(*conditions)).group_by(*keys).order_by(*keys)).all()
    out = []
    for r in rows:
        count, visits, medfee, fund, acct, cash = r[len(keys):]
        row = {"month": r[0], "count": int(count), "visits": int(visits), "medfee": yuan(int(medfee)),
               "fund": yuan(int(fund)), "acct": yuan(int(acct)), "cash": yuan(int(cash))}
        if per_institution:
            row["fixmedins_code"] = r[1]
        out.append(row)
    return out


def _year(column: Any, year: int) -> Any:
    return and_(column >= f"{year:04d}-01-01", column <= f"{year:04d}-12-31")


def regions_with_data(app: OutpatientPooling) -> list[dict[str, Any]]:
    """The regions with settlements in the ledger, each with its name and the years it has."""
    m = settlements_movements.c
    year = func.substr(m.day, 1, 4)
    with _connect(app) as conn:
        rows = conn.execute(select(m.admdvs, year).distinct().order_by(m.admdvs, year)).all()
    out: dict[str, dict[str, Any]] = {}
    for admdvs, y in rows:
        profile = app.library.regions.get(admdvs)
        out.setdefault(admdvs, {"admdvs": admdvs, "name": profile.name if profile else admdvs, "years": []})
        out[admdvs]["years"].append(int(y))
    return list(out.values())


def _institution(app: OutpatientPooling, fixmedins_code: str) -> Institution:
    found = app.services().uow.get(Institution, institution_id(fixmedins_code))
    if found is None:
        raise UnknownError("fixmedins_code", "institution", fixmedins_code)
    return found


def institution_info(app: OutpatientPooling, fixmedins_code: str) -> dict[str, Any]:
    """Who an institution is: name, region, kind, level and (Jiaozuo) cost category."""
    found = _institution(app, fixmedins_code)
    return {"fixmedins_code": fixmedins_code, "name": found.fixmedins_name, "admdvs": found.admdvs,
            "kind": found.kind, "level": found.level, "category": found.category}


def budget(app: OutpatientPooling, admdvs: str, year: int) -> Decimal | None:
    """The region's annual budget (budget.set), if one was set."""
    found = app.services().uow.get(Region, region_id(admdvs))
    return None if found is None else found.budgets.get(str(year))


def institutions_of(app: OutpatientPooling, admdvs: str, year: int) -> list[dict[str, Any]]:
    """Every institution with movements in the region's year, with its totals."""
    m = settlements_movements.c
    with _connect(app) as conn:
        rows = conn.execute(select(m.fixmedins_code, func.sum(m.count), func.sum(m.visits), func.sum(m.medfee),
                                   func.sum(m.fund))
                            .where(m.admdvs == admdvs, _year(m.day, year))
                            .group_by(m.fixmedins_code).order_by(m.fixmedins_code)).all()
    out = []
    for code, count, visits, medfee, fund in rows:
        info = institution_info(app, code)
        out.append({**info, "count": int(count), "visits": int(visits), "medfee": yuan(int(medfee)),
                    "fund": yuan(int(fund)), "cost_per_visit": _per(yuan(int(medfee)) or ZERO, int(visits))})
    return out


def usage_bands(app: OutpatientPooling, admdvs: str, year: int) -> list[dict[str, Any]]:
    """Kaifeng 三（三）'s usage tiers as ranges of the fund's year total, in yuan, with their articles."""
    amount = budget(app, admdvs, year)
    policy = app.library.policy_for(admdvs, date(year, 12, 31))
    names = ("clearing_sharing_floor", "clearing_sharing_knee", "clearing_overspend_limit")
    if amount is None or not all(policy.has(n) for n in names):
        return []
    floor, knee, limit = (policy.get(n) for n in names)
    whole = Decimal(1)
    edges = [(ZERO, floor.value, "无结余共享", floor), (floor.value, knee.value, "结余共享", knee),
             (knee.value, whole, "结余共享", knee), (whole, limit.value, "超支分担", limit),
             (limit.value, limit.value + (limit.value - whole) * 3, "超出部分基金不分担", limit)]
    return [{"low": round_fen(amount * low), "high": round_fen(amount * high),
             "label": f"{_percent(low)}–{_percent(high)} {label}", "citation": cited.citation()}
            for low, high, label, cited in edges]


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def region_overview(app: OutpatientPooling, admdvs: str, year: int) -> dict[str, Any]:
    """A region's year: budget against fund paid month by month, usage, and who was served."""
    if admdvs not in app.library.regions:
        raise InputError("admdvs", f"no policy profile for region {admdvs}", code=RefusalCode.UNKNOWN_REGION)
    totals = app.region_totals(admdvs, year)
    m, i = settlements_movements.c, settlements_index.c
    with _connect(app) as conn:
        months = _monthly(conn, m.admdvs == admdvs, _year(m.day, year))
        visits = conn.execute(select(func.coalesce(func.sum(m.visits), 0))
                              .where(m.admdvs == admdvs, _year(m.day, year))).scalar_one()
        refusals = conn.execute(select(i.refusal_code, func.count()).where(
            i.admdvs == admdvs, _year(i.day, year), i.status == "settled", i.refusal_code.is_not(None))
            .group_by(i.refusal_code).order_by(func.count().desc(), i.refusal_code)).all()
    running = ZERO
    for row in months:
        running += row["fund"]
        row["cumulative_fund"] = running
    amount = budget(app, admdvs, year)
    policy = app.library.policy_for(admdvs, date(year, 12, 31))
    months_of_budget = policy.get("budget_months").value if policy.has("budget_months") else None
    try:
        cleared: dict[str, Any] | None = app.clearing(admdvs, year)
    except InputError:
        cleared = None
    return {
        "admdvs": admdvs, "name": app.library.regions[admdvs].name, "year": year, "budget": amount,
        "monthly_budget": round_fen(amount / months_of_budget) if amount and months_of_budget else None,
        "usage_rate": _ratio(totals["fund"], amount) if amount else None,
        "members": len(app.members_of(admdvs, f"{year:04d}-12-31")), "totals": totals, "visits": int(visits),
        "cost_per_visit": _per(totals["medfee"], int(visits)),
        "member_share": _ratio(totals["medfee"] - totals["fund"], totals["medfee"]),
        "refusals": [{"code": code, "count": int(n)} for code, n in refusals],
        "months": months, "clearing": cleared, "bands": usage_bands(app, admdvs, year),
        "institutions": institutions_of(app, admdvs, year), "formula": clearing_formula(app, admdvs, year),
    }


def cost_ceiling(app: OutpatientPooling, fixmedins_code: str, year: int) -> dict[str, Any]:
    """Jiaozuo 四（一）3: cost per visit month by month against the baseline and its growth ceiling.

    The baseline is set as the clearing sets it; in a region whose scheme is not Jiaozuo's, and
    for a pharmacy or an exempt clinic, there is none and the page says so.
    """
    institution = _institution(app, fixmedins_code)
    policy = app.library.policy_for(institution.admdvs, date(year, 12, 31))
    rows = app.prepayments(fixmedins_code, year)["rows"]
    months = [{"month": r["month"], "visits": r["visits"], "medfee": r["medfee"],
               "cost_per_visit": _per(r["medfee"], r["visits"])} for r in rows]
    scheme = policy.get("payment_scheme").value if policy.has("payment_scheme") else None
    out: dict[str, Any] = {"scheme": scheme, "months": months, "baseline": None, "how": None, "ceiling": None,
                           "growth_cap": None, "citation": None}
    if scheme != "jiaozuo_conditional_ffs" or institution.kind == "pharmacy":
        return out
    reader = Reader(policy)
    cap = policy.get("cost_growth_cap")
    found = jiaozuo_baseline(institution, year, reader)
    if found is not None:
        baseline, how = found
        out.update(baseline=baseline, how=how, growth_cap=cap.value, citation=cap.citation(),
                   ceiling=round_fen(baseline * (1 + cap.value)))
    return out


def institution_page(app: OutpatientPooling, fixmedins_code: str, year: int) -> dict[str, Any]:
    """An institution's year: prepayment ledger, its clearing row with the article, the cost ceiling."""
    info = institution_info(app, fixmedins_code)
    ledger = app.prepayments(fixmedins_code, year)
    row, summary = None, None
    try:
        cleared = app.clearing(info["admdvs"], year)
    except InputError:
        cleared = None
    if cleared is not None:
        summary = {k: v for k, v in cleared.items() if k != "rows"}
        row = next((r for r in cleared["rows"] if r["fixmedins_code"] == fixmedins_code), None)
    return {"institution": info, "year": year, "prepayments": ledger, "clearing": row, "region_clearing": summary,
            "formula": clearing_formula(app, info["admdvs"], year),
            "ceiling": cost_ceiling(app, fixmedins_code, year)}


def clearing_formula(app: OutpatientPooling, admdvs: str, year: int) -> dict[str, str] | None:
    """The formula the region's clearing scheme applies, with the values in force and the article."""
    policy = app.library.policy_for(admdvs, date(year, 12, 31))
    scheme = policy.get("payment_scheme").value if policy.has("payment_scheme") else None
    if scheme == "kaifeng_global_budget":
        w_budget, w_actual = policy.get("clearing_budget_weight"), policy.get("clearing_actual_weight")
        limit = policy.get("clearing_overspend_limit")
        return {"article": w_budget.citation(),
                "text": f"使用率 < 100%：拨付 = 实际发生数 × (结余共享金额 ÷ 全部机构实际发生数 + 1)；"
                        f"100% ≤ 使用率 ≤ {_percent(limit.value)}：拨付 = 实际发生数 × ({w_budget.value} × 预算 + "
                        f"{w_actual.value} × 实际发生额) ÷ 实际发生额；使用率 > {_percent(limit.value)}："
                        f"超出部分基金不分担。应付 = 拨付 − 已预付（含保证金）。"}
    if scheme == "jiaozuo_conditional_ffs":
        cap = policy.get("cost_growth_cap")
        return {"article": cap.citation(),
                "text": f"次均费用不超过 基数 × (1 + {_percent(cap.value)}) 的据实结算；超过部分统筹基金不予支付，"
                        f"由定点医疗机构承担（复核后按违规比例支付）。应付 = 拨付 − 已预付（含保证金）。"}
    return None


def search_settlements(app: OutpatientPooling, fixmedins_code: str, text: str = "",
                       limit: int = SEARCH_LIMIT) -> list[dict[str, Any]]:
    """An institution's settlements, newest first, matching ``text`` in an id, a member or a date."""
    i, m = settlements_index.c, settlements_movements.c
    net = (select(m.setl_id, func.sum(m.medfee).label("medfee"), func.sum(m.fund).label("fund"),
                  func.sum(m.acct).label("acct"), func.sum(m.cash).label("cash"))
           .where(m.fixmedins_code == fixmedins_code).group_by(m.setl_id).subquery())
    conditions = [i.fixmedins_code == fixmedins_code]
    if text:
        like = f"%{text}%"
        conditions.append(or_(i.medins_setl_id.like(like), i.setl_id.like(like), i.psn_no.like(like),
                              i.day.like(like)))
    with _connect(app) as conn:
        rows = conn.execute(select(i.setl_id, i.medins_setl_id, i.psn_no, i.kind, i.day, i.status, i.refusal_code,
                                   net.c.medfee, net.c.fund, net.c.acct, net.c.cash)
                            .join(net, net.c.setl_id == i.setl_id).where(and_(*conditions))
                            .order_by(i.position.desc()).limit(limit)).mappings().all()
    return [{**{k: r[k] for k in ("setl_id", "medins_setl_id", "psn_no", "kind", "day", "status", "refusal_code")},
             **{k: yuan(int(r[k])) for k in ("medfee", "fund", "acct", "cash")}} for r in rows]


def member_settlements(app: OutpatientPooling, psn_no: str, year: int) -> list[dict[str, Any]]:
    """A member's settlements of a year, each with the view ``ledger settlement --json`` prints."""
    i = settlements_index.c
    with _connect(app) as conn:
        keys = conn.execute(select(i.setl_id).where(i.psn_no == psn_no, _year(i.day, year))
                            .order_by(i.position)).scalars().all()
    return [app.settlement_view(app.get_settlement(key)) for key in keys]


def member_institutions(app: OutpatientPooling, psn_no: str) -> set[str]:
    """The institutions where a member has settled (what an institution may see of a member)."""
    i = settlements_index.c
    with _connect(app) as conn:
        return set(conn.execute(select(i.fixmedins_code).where(i.psn_no == psn_no).distinct()).scalars())


def member_page(app: OutpatientPooling, psn_no: str, year: int, as_of: date | None = None,
                known_at: str | None = None) -> dict[str, Any]:
    """A member's account and cap, as of a date and as known at a log position, and their settlements."""
    balance = app.balance(psn_no, as_of, known_at)
    cap = app.cap(psn_no, year, as_of, known_at)
    position = balance["known_at"]
    rows = [r for r in app.history(psn_no)
            if (position is None or r["position"] <= position) and (as_of is None or r["date"] <= as_of.isoformat())]
    return {"psn_no": psn_no, "year": year, "as_of": as_of, "known_at": position, "balance": balance, "cap": cap,
            "history": rows, "settlements": member_settlements(app, psn_no, year)}


# ------------------------------------------------------------------- watch list


@dataclass(frozen=True)
class Metric:
    """A watched measure of an institution's month and the threshold parameter that flags it."""

    name: str
    label: str
    parameter: str


METRICS = (
    Metric("cost_per_visit", "次均费用 cost per visit", "watch_cost_per_visit_rise"),
    Metric("visits_per_member", "人均就诊次数 visits per member", "watch_visits_per_member_rise"),
    Metric("member_share", "个人负担比例 member share", "watch_member_share_rise"),
    Metric("out_of_catalogue_share", "目录外费用占比 out-of-catalogue share", "watch_out_of_catalogue_rise"),
)


@cache
def _watch_library() -> PolicyLibrary:
    watch = load_policy_file(Path(WATCH_FILE))
    profile = RegionProfile(name="watch", sources=(Source(document=watch.document.id),))
    return PolicyLibrary({watch.document.id: watch}, {"watch": profile})


def watch_thresholds(day: date) -> dict[str, Cited]:
    """The watch list's thresholds in force on ``day`` (all assumed)."""
    return _watch_library().policy_for("watch", day).params


def _out_of_catalogue(app: OutpatientPooling, admdvs: str, year: int) -> dict[tuple[str, str], Decimal]:
    """Per institution and month, the settled cost outside the catalogue (全自费), read from the log."""
    source = EventSource.of(app)
    out: dict[tuple[str, str], Decimal] = {}
    prefix = f"{year:04d}-"
    with _connect(app) as conn:
        i = settlements_index.c
        live = set(conn.execute(select(i.setl_id).where(i.admdvs == admdvs, _year(i.day, year),
                                                        i.status == "settled")).scalars())
    for notifications in source.batches(1, source.head() or 0, (SETTLED,), 2000):
        for n in notifications:
            if str(n.originator_id) not in live:
                continue
            p = source.transcoder.decode(n.state)
            day = p["claim"]["date"].isoformat() if isinstance(p["claim"]["date"], date) else str(p["claim"]["date"])
            if day.startswith(prefix):
                key = (p["fixmedins_code"], day[:7])
                out[key] = out.get(key, ZERO) + p["result"]["fulamt_ownpay_amt"]
    return out


def watch_list(app: OutpatientPooling, admdvs: str, year: int) -> dict[str, Any]:
    """Institution-months whose measures moved past a threshold against their own past or their peers."""
    thresholds = watch_thresholds(date(year, 12, 31))
    m, i = settlements_movements.c, settlements_index.c
    month = func.substr(i.day, 1, 7)
    with _connect(app) as conn:
        monthly = {(r["fixmedins_code"], r["month"]): r
                   for r in _monthly(conn, m.admdvs == admdvs, _year(m.day, year), per_institution=True)}
        people = {(code, mon): int(n) for code, mon, n in conn.execute(
            select(i.fixmedins_code, month, func.count(i.psn_no.distinct()))
            .where(i.admdvs == admdvs, _year(i.day, year), i.status == "settled").group_by(i.fixmedins_code, month))}
    outside = _out_of_catalogue(app, admdvs, year)
    measures: dict[tuple[str, str], dict[str, Decimal | None]] = {}
    for key, r in monthly.items():
        measures[key] = {"cost_per_visit": _per(r["medfee"], r["visits"]),
                         "visits_per_member": _ratio(r["visits"], people.get(key, 0)),
                         "member_share": _ratio(r["medfee"] - r["fund"], r["medfee"]),
                         "out_of_catalogue_share": _ratio(outside.get(key, ZERO), r["medfee"])}
    peer_limit = thresholds["watch_peer_excess"]
    flags = []
    for (code, mon), values in sorted(measures.items()):
        kind = code[:1]
        for metric in METRICS:
            value = values[metric.name]
            if value is None:
                continue
            limit = thresholds[metric.parameter]
            own = [v[metric.name] for (c, mo), v in measures.items() if c == code and mo < mon]
            own_values = [v for v in own if v is not None]
            peers = [v[metric.name] for (c, mo), v in measures.items() if mo == mon and c != code and c[:1] == kind]
            peer_values = [v for v in peers if v is not None]
            reasons = []
            if own_values:
                base = sum(own_values, ZERO) / len(own_values)
                if base and value > base * (1 + limit.value):
                    reasons.append({"against": "own previous months", "reference": base.quantize(RATE),
                                    "threshold": limit.value, "citation": limit.citation()})
            if peer_values:
                base = sum(peer_values, ZERO) / len(peer_values)
                if base and value > base * (1 + peer_limit.value):
                    reasons.append({"against": "peers this month", "reference": base.quantize(RATE),
                                    "threshold": peer_limit.value, "citation": peer_limit.citation()})
            for reason in reasons:
                flags.append({"fixmedins_code": code, "month": mon, "metric": metric.name, "label": metric.label,
                              "value": value, **reason})
    return {"admdvs": admdvs, "year": year, "flags": flags,
            "thresholds": [c.as_record() for c in thresholds.values()]}


# ------------------------------------------------------------------- policy


def policy_in_force(app: OutpatientPooling, admdvs: str, day: date) -> dict[str, Any]:
    """Every parameter in force for a region on a date: value, effective date, citation, assumed or not."""
    if admdvs not in app.library.regions:
        raise InputError("admdvs", f"no policy profile for region {admdvs}", code=RefusalCode.UNKNOWN_REGION)
    policy = app.library.policy_for(admdvs, day)
    return {"admdvs": admdvs, "name": app.library.regions[admdvs].name, "date": day, "version": policy.version,
            "params": [policy.params[name].as_record() for name in sorted(policy.params)]}
