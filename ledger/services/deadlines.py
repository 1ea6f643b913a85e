"""The overdue report: pharmacies' months received and not paid within their working days.

医保办发〔2023〕4号 三（四） sets the period for pharmacies (定点零售药店) only, so only their
applications are judged; a hospital's month is recorded but has no deadline in our documents.
The period in force on the day an application was received applies to it.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from ledger.errors import InputError, PolicyNotInForceError
from ledger.projections.deadlines import months_of
from ledger.refusals import RefusalCode
from ledger.rules.deadlines import working_day_deadline, working_days_between
from ledger.rules.reader import Reader

if TYPE_CHECKING:
    from ledger.services.application import OutpatientPooling

OVERDUE, PAID_LATE = "overdue", "paid_late"


def overdue(app: OutpatientPooling, admdvs: str, as_of: date) -> dict[str, Any]:
    """Every pharmacy month of ``admdvs`` that, as of ``as_of``, is unpaid past its deadline or was paid late."""
    if admdvs not in app.library.regions:
        raise InputError("admdvs", f"no policy profile for region {admdvs}", code=RefusalCode.UNKNOWN_REGION)
    app.read_models.catch_up()
    with app.engine.connect() as conn:
        months = months_of(conn, admdvs, "pharmacy")
    rows = []
    for month in months:
        received = date.fromisoformat(month["received_on"])
        if received > as_of:
            continue
        try:
            cited = Reader(app.library.policy_for(admdvs, received)).cited("pharmacy_settlement_working_days")
        except PolicyNotInForceError as e:
            raise InputError("admdvs", str(e), code=RefusalCode.NO_POLICY_IN_FORCE) from None
        due = working_day_deadline(received, int(cited.value))
        paid = date.fromisoformat(month["paid_on"]) if month["paid_on"] else None
        if paid is not None and paid > as_of:
            paid = None  # not yet paid on the day asked about
        end = paid or as_of
        if end <= due:
            continue
        rows.append({
            "fixmedins_code": month["fixmedins_code"], "month": month["month"],
            "received_on": received, "due_on": due, "paid_on": paid,
            "status": PAID_LATE if paid else OVERDUE,
            "working_days": working_days_between(received, end),
            "working_days_late": working_days_between(due, end),
            "received_amount": month["received_amount"], "article": cited.citation(),
        })
    return {"admdvs": admdvs, "as_of": as_of, "rows": rows}
