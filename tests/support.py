"""Message builders for tests: small functions that return exchange messages as dicts."""

from __future__ import annotations

import json
from itertools import count
from typing import TYPE_CHECKING, Any

from ledger.exchange.messages import validate_message

if TYPE_CHECKING:
    from pathlib import Path

    from ledger.services.application import Outcome, OutpatientPooling

_serial = count(1)


def institution(code: str, *, level: int | None = 3, kind: str = "hospital", admdvs: str = "411500",
                designated: bool = True, day: str = "2024-01-01", **extra: Any) -> dict[str, Any]:
    return {"type": "institution.registered", "date": day, "fixmedins_code": code, "fixmedins_name": code,
            "admdvs": admdvs, "kind": kind, "level": level if kind == "hospital" else None,
            "pooling_designated": designated, **extra}


def pharmacy(code: str, **kw: Any) -> dict[str, Any]:
    return institution(code, kind="pharmacy", level=None, **kw)


def member(psn_no: str, *, psn_type: str = "11", base: str = "6000.00", admdvs: str = "411500",
           day: str = "2024-01-01", **extra: Any) -> dict[str, Any]:
    return {"type": "member.enrolled", "date": day, "psn_no": psn_no, "admdvs": admdvs, "psn_type": psn_type,
            "contribution_base": base, **extra}


def fact(type_: str, psn_no: str, day: str, **extra: Any) -> dict[str, Any]:
    return {"type": f"member.{type_}", "date": day, "psn_no": psn_no, **extra}


def item(pric: str, *, cnt: str = "1", lv: str = "01", code: str = "XJ01", sn: str | None = None,
         **extra: Any) -> dict[str, Any]:
    return {"feedetl_sn": sn or str(next(_serial)), "med_list_codg": code, "cnt": cnt, "pric": pric,
            "chrgitm_lv": lv, **extra}


def visit(setl: str, psn_no: str, hospital: str, day: str, *items: dict[str, Any], mdtrt: str | None = None,
          acct: bool = False, **extra: Any) -> dict[str, Any]:
    return {"type": "visit.settled", "date": day, "medins_setl_id": setl, "mdtrt_id": mdtrt or f"V-{setl}",
            "psn_no": psn_no, "fixmedins_code": hospital, "med_type": "11", "acct_used_flag": acct,
            "items": list(items), **extra}


def prescription(rx: str, psn_no: str, hospital: str, day: str, mdtrt: str, drugs: list[tuple[str, str, int]],
                 **extra: Any) -> dict[str, Any]:
    return {"type": "prescription.issued", "date": day, "rx_no": rx, "mdtrt_id": mdtrt, "psn_no": psn_no,
            "fixmedins_code": hospital, "drugs": [{"med_list_codg": c, "cnt": n, "days": d} for c, n, d in drugs],
            **extra}


def purchase(setl: str, rx: str, psn_no: str, pharmacy_code: str, day: str, *items: dict[str, Any],
             acct: bool = False, delivery_fee: str = "0.00", **extra: Any) -> dict[str, Any]:
    return {"type": "purchase.settled", "date": day, "medins_setl_id": setl, "rx_no": rx, "psn_no": psn_no,
            "fixmedins_code": pharmacy_code, "acct_used_flag": acct, "items": list(items),
            "delivery_fee": delivery_fee, **extra}


def close_month(admdvs: str, month: str, day: str) -> dict[str, Any]:
    return {"type": "month.closed", "date": day, "admdvs": admdvs, "month": month}


def book(app: OutpatientPooling, *messages: dict[str, Any]) -> list[Outcome]:
    """Book messages in order (period closes on their own, like an ingest); the outcomes."""
    outcomes: list[Outcome] = []
    for raw in messages:
        msg = validate_message(raw)
        if msg.type in ("month.closed", "year.closed"):
            outcomes.append(app.close_period(msg))
        else:
            outcomes.extend(app.book([msg]))
    app.read_models.catch_up()
    return outcomes


def write_jsonl(path: Path, *messages: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages), encoding="utf-8")
    return path
