"""What if: replay a region's year of settlements under changed parameters, booking nothing.

A reform is a parameter file in the shape of the policy documents (``ledger/policy/documents``)
whose values take precedence for the region. Each settlement of the year is re-adjudicated
from its recorded claim and context, in log order, with the annual cap used as the replay
pays it; reversed settlements drop out. The report gives, per institution, what the
pooling fund and the members paid and would pay.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.adapters.collector import batch_collection
from ledger.money import ZERO
from ledger.policy.files import load_policy_file
from ledger.rules.adjudication import adjudicate
from ledger.rules.facts import Claim, Context

if TYPE_CHECKING:
    from ledger.services.ports import SettlementLog

TOPICS = ("yibao:Settlement.Settled", "yibao:Settlement.Adjusted", "yibao:Settlement.Reversed")


@dataclass
class _Replayed:
    fixmedins_code: str
    month: str
    member: str
    fund: Decimal
    member_part: Decimal
    fund_whatif: Decimal
    member_whatif: Decimal


@batch_collection()
def whatif(app: SettlementLog, reform: str, admdvs: str, year: int, *, batch: int = 2000) -> dict[str, Any]:
    """The fund's and the members' difference per institution if ``reform`` had applied in ``year``."""
    overrides = load_policy_file(Path(reform))
    library = app.library.with_overrides(overrides, admdvs)
    source = app.event_source()
    used: dict[str, Decimal] = {}
    replayed: dict[str, _Replayed] = {}
    # Only the settlements' events, up to the head as it stands when the what-if starts.
    for notifications in source.batches(1, source.head() or 0, TOPICS, batch):
        for n in notifications:
            p = source.transcoder.decode(n.state)
            if p["admdvs"] != admdvs:
                continue
            setl_id = str(n.originator_id)
            if n.topic == "yibao:Settlement.Reversed":
                gone = replayed.pop(setl_id, None)
                if gone is not None:
                    used[gone.member] -= gone.fund_whatif
                continue
            claim = Claim.from_record(p["claim"])
            if claim.date.year != year:
                continue
            earlier = replayed.pop(setl_id, None)
            if earlier is not None:
                used[earlier.member] -= earlier.fund_whatif
            context = Context.from_record(p["context"])
            member = p["psn_no"]
            context = Context(**{**context.as_record(), "cap_used_before": used.get(member, ZERO),
                                 "notes": context.notes})
            result = adjudicate(claim, context, library.policy_for(admdvs, claim.date)).setlinfo
            used[member] = used.get(member, ZERO) + result["hifp_pay"]
            replayed[setl_id] = _Replayed(p["fixmedins_code"], claim.date.isoformat()[:7], member,
                                          p["result"]["fund_pay_sumamt"], p["result"]["psn_part_amt"],
                                          result["fund_pay_sumamt"], result["psn_part_amt"])
    return _report(overrides.document.number, admdvs, year, list(replayed.values()))


def _report(reform: str, admdvs: str, year: int, rows: list[_Replayed]) -> dict[str, Any]:
    out = _added_up(rows, "fixmedins_code")
    totals = {k: sum((r[k] for r in out), ZERO) for k in ("fund", "fund_whatif", "fund_difference", "member",
                                                          "member_whatif", "member_difference")}
    return {"reform": reform, "admdvs": admdvs, "year": year, "rows": out, "totals": totals,
            "months": _added_up(rows, "month")}


def _added_up(rows: list[_Replayed], key: str) -> list[dict[str, Any]]:
    """The replayed settlements added up per institution or per month of service, with the differences."""
    per: dict[str, dict[str, Any]] = {}
    for r in rows:
        group = getattr(r, key)
        t = per.setdefault(group, {key: group, "settlements": 0, "fund": ZERO, "fund_whatif": ZERO, "member": ZERO,
                                   "member_whatif": ZERO})
        t["settlements"] += 1
        t["fund"] += r.fund
        t["fund_whatif"] += r.fund_whatif
        t["member"] += r.member_part
        t["member_whatif"] += r.member_whatif
    return [{**per[g], "fund_difference": per[g]["fund_whatif"] - per[g]["fund"],
             "member_difference": per[g]["member_whatif"] - per[g]["member"]} for g in sorted(per)]
