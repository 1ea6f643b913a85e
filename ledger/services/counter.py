"""The counter's transactions: register a visit, upload its fee lines, settle, reverse, and ask.

A visit registered by 2201 gets its ``mdtrt_id`` from the ledger; 2204 uploads fee lines
under it and 2205 cancels those not yet settled. They wait in the service's tables
(``ledger.adapters.service_tables``), which survive a restart, until 2207 settles them: the
waiting lines become one ``visit.settled`` (or, with ``med_type`` 41 and the lines'
``rx_no``, one ``purchase.settled``) whose ``medins_setl_id`` is ``mdtrt_id-chrg_bchno``, so
a settlement retried under a new ``msgid`` finds the one booked before. The claim's date is
the visit's; its settlement date is today, and how late a counter may still settle is the
policy's ``late_settlement_window_days``; older bills go through the operator's backfill.
"""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update

from ledger.adapters.service_tables import fee_lines, visits
from ledger.domain.aggregate import submitted_by
from ledger.errors import InputError, LedgerError, UnknownError
from ledger.money import ZERO
from ledger.periods import month_end
from ledger.refusals import RefusalCode
from ledger.rules.items import Line, line_amount, split_line
from ledger.rules.reader import Reader
from ledger.services import transactions as t
from ledger.services.calls import Call, as_message, setlinfo, statement_month, validated

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sqlalchemy import Connection
    from sqlalchemy.engine import Row

    from ledger.domain.claims import Settlement
    from ledger.exchange.messages import Message
    from ledger.services.application import Outcome, OutpatientPooling
    from ledger.services.follower import Follower
    from ledger.services.handlers import Services

ITEM_FIELDS = ("feedetl_sn", "med_list_codg", "name", "cnt", "pric", "pric_uplmt_amt", "chrgitm_lv", "exclusion")
"""What of a fee line becomes the bill item of the exchange contract."""
ALL_LINES = "0000"
RESERVED = "~"
"""A line's ``setl_id`` while a bill (``~`` + its ``medins_setl_id``) is being booked."""
PHARMACY = "41"


_c = fee_lines.c
VISIT = select(visits).where(visits.c.mdtrt_id == bindparam("mdtrt_id"))
HELD = select(_c.record, _c.setl_id).where(_c.mdtrt_id == bindparam("mdtrt_id"), _c.feedetl_sn == bindparam("sn"))
_MINE = or_(_c.setl_id.is_(None), _c.setl_id == bindparam("mark"))
_THESE = and_(_c.mdtrt_id == bindparam("visit"), _c.feedetl_sn.in_(bindparam("sns", expanding=True)))
WAITING = select(fee_lines).where(_c.mdtrt_id == bindparam("mdtrt_id"), _MINE).order_by(_c.seq)
TAKEN = select(fee_lines).where(_c.mdtrt_id == bindparam("mdtrt_id"), _c.setl_id.is_not(None)).order_by(_c.seq)
LAST_SEQ = select(func.coalesce(func.max(_c.seq), 0)).where(_c.mdtrt_id.in_(bindparam("visits", expanding=True)))
RESERVE = update(fee_lines).where(_THESE, _MINE).values(setl_id=bindparam("mark"))
TAKE = update(fee_lines).where(_THESE).values(setl_id=bindparam("taken_by"))
"""The counter's statements on its waiting work, built once: they run on every request."""


def _record(line: t.FeeLine) -> str:
    return json.dumps({**{name: getattr(line, name) for name in ITEM_FIELDS}, "rx_no": line.rx_no,
                       "det_item_fee_sumamt": line.det_item_fee_sumamt}, default=str, sort_keys=True)


class Counter:
    """2201-2208 and the queries a counter makes, over one ledger application."""

    def __init__(self, ledger: OutpatientPooling, follower: Follower, today: Callable[[], date],
                 book: Callable[[Call, Message], Outcome]) -> None:
        self.ledger = ledger
        self.book = book
        """Books a settlement with those arriving together (``ledger.services.booker``)."""
        self.follower = follower
        self.today = today

    @contextmanager
    def _reading(self) -> Iterator[Services]:
        """The ledger's aggregates, to read: they go back to the application's cache afterwards."""
        s = self.ledger.services()
        yield s
        s.uow.commit()  # nothing pending: no write, only the cache refilled

    # ---------------------------------------------------------------- the visit and its lines

    def _visit(self, call: Call, mdtrt_id: str, psn_no: str, field: str) -> Row[Any]:
        row = call.conn.execute(VISIT, {"mdtrt_id": mdtrt_id}).first()
        if row is None:
            raise UnknownError(f"{field}.mdtrt_id", "visit", mdtrt_id)
        call.check_owns(row.fixmedins_code, f"visit {mdtrt_id}")
        if row.psn_no != psn_no:
            raise InputError(f"{field}.psn_no", f"visit {mdtrt_id} is not {psn_no}'s", code=RefusalCode.VISIT_FOREIGN)
        return row

    @staticmethod
    def _lines(call: Call, mdtrt_id: str, *, waiting: bool, medins_setl_id: str = "") -> list[Row[Any]]:
        """A visit's waiting lines (with those this very bill reserved), or its taken ones."""
        return list(call.conn.execute(WAITING if waiting else TAKEN,
                                      {"mdtrt_id": mdtrt_id, "mark": RESERVED + medins_setl_id}))

    @staticmethod
    def _reserve(call: Call, mdtrt_id: str, feedetl_sns: list[str], medins_setl_id: str) -> None:
        """Reserve the lines for one bill, committed before the bill is booked.

        So two bills (two requests, two workers) never take the same line; a bill retried after a
        crash between reserving and booking finds its own reservation. The commit need not wait
        for the disk: the booking's own durable commit comes later in the same database's log,
        so a booked bill's reservation is never lost.
        """
        with call.transaction() as conn:
            reserved = conn.execute(RESERVE, {"visit": mdtrt_id, "sns": feedetl_sns,
                                              "mark": RESERVED + medins_setl_id}).rowcount
            if reserved != len(feedetl_sns):
                raise InputError("input.data.mdtrt_id", f"another bill of visit {mdtrt_id} is taking its lines",
                                 code=RefusalCode.VISIT_SETTLING)

    @staticmethod
    def _take(conn: Connection, mdtrt_id: str, feedetl_sns: list[str], setl_id: str | None) -> None:
        """Mark lines as taken by a settlement (or, with None, waiting again after a reversal).

        Lines reserved for a bill that was booked count as taken until marked (``_lines``), so
        the mark can wait for the answer's transaction.
        """
        conn.execute(TAKE, {"visit": mdtrt_id, "sns": feedetl_sns, "taken_by": setl_id})

    def register(self, call: Call) -> dict[str, Any]:
        """2201: register a visit of a member; the ledger assigns its ``mdtrt_id``."""
        data = validated(t.RegistrationInput, call.envelope.input).data
        code = call.institution()
        with self._reading() as s:
            s.institution(code)
            s.member(data.psn_no, "input.data.psn_no").check_present(data.begntime)
        mdtrt_id = uuid.uuid4().hex[:20]
        row = {"mdtrt_id": mdtrt_id, "fixmedins_code": code, "psn_no": data.psn_no, "day": data.begntime.isoformat(),
               "insutype": data.insutype, "record": data.model_dump_json()}
        call.write_with_answer(lambda conn: conn.execute(insert(visits), row))
        return {"data": {"mdtrt_id": mdtrt_id, "psn_no": data.psn_no, "ipt_otp_no": data.ipt_otp_no}}

    def upload(self, call: Call) -> dict[str, Any]:
        """2204: upload fee lines under registered visits; each line's split is answered."""
        lines = validated(t.FeeUpload, call.envelope.input).feedetail
        rows, results = [], []
        with self._reading() as s:
            for i, line in enumerate(lines):
                field = f"input.feedetail.{i}"
                visit = self._visit(call, line.mdtrt_id, line.psn_no, field)
                item = Line(*(getattr(line, name) for name in ITEM_FIELDS))
                if line_amount(item) != line.det_item_fee_sumamt:
                    raise InputError(f"{field}.det_item_fee_sumamt", f"{line.det_item_fee_sumamt} is not cnt × pric "
                                     f"= {line_amount(item)}", code=RefusalCode.LINE_AMOUNT_MISMATCH)
                record = _record(line)
                held = call.conn.execute(HELD, {"mdtrt_id": line.mdtrt_id, "sn": line.feedetl_sn}).first()
                if held is not None and (held.record != record or held.setl_id is not None):
                    raise InputError(f"{field}.feedetl_sn", f"{line.feedetl_sn} was already uploaded "
                                     + ("and settled" if held.setl_id else "with other content"),
                                     code=RefusalCode.LINE_REUSED)
                policy = s.policy(s.member(line.psn_no).admdvs, date.fromisoformat(visit.day), f"{field}.mdtrt_id")
                split = split_line(item, Reader(policy))
                results.append({"feedetl_sn": line.feedetl_sn, "det_item_fee_sumamt": split.det_item_fee_sumamt,
                                "cnt": line.cnt, "pric": line.pric, "pric_uplmt_amt": line.pric_uplmt_amt,
                                "chrgitm_lv": line.chrgitm_lv, "fulamt_ownpay_amt": split.fulamt_ownpay_amt,
                                "overlmt_amt": split.overlmt_selfpay, "preselfpay_amt": split.preselfpay_amt,
                                "inscp_scp_amt": split.inscp_scp_amt})
                if held is None:
                    rows.append({"mdtrt_id": line.mdtrt_id, "feedetl_sn": line.feedetl_sn, "record": record})
        if rows:
            def store(conn: Connection) -> None:
                # The order matters within a visit only: its key's index finds the last one, at any table size.
                seq = conn.execute(LAST_SEQ, {"visits": sorted({row["mdtrt_id"] for row in rows})}).scalar_one()
                conn.execute(insert(fee_lines), [{**row, "seq": seq + n} for n, row in enumerate(rows, 1)])
            call.write_with_answer(store)
        return {"result": results}

    def cancel(self, call: Call) -> dict[str, Any]:
        """2205: cancel uploaded lines not yet settled (``feedetl_sn`` 0000: every one)."""
        data = validated(t.FeeCancelInput, call.envelope.input).data
        self._visit(call, data.mdtrt_id, data.psn_no, "input.data")
        waiting = [row.feedetl_sn for row in self._lines(call, data.mdtrt_id, waiting=True)]
        chosen = waiting if data.feedetl_sn == ALL_LINES else [data.feedetl_sn]
        if data.feedetl_sn != ALL_LINES and data.feedetl_sn not in waiting:
            raise InputError("input.data.feedetl_sn", f"{data.feedetl_sn} is not a line of visit {data.mdtrt_id} "
                             "waiting to be settled", code=RefusalCode.NO_SUCH_WAITING_LINE)
        call.write_with_answer(lambda conn: conn.execute(delete(fee_lines).where(
            fee_lines.c.mdtrt_id == data.mdtrt_id, fee_lines.c.feedetl_sn.in_(chosen))))
        return {"mdtrt_id": data.mdtrt_id, "cancelled": chosen}

    # ---------------------------------------------------------------- settling

    def _claim(self, call: Call, data: t.Settle) -> tuple[dict[str, Any], list[str]]:
        """The waiting lines of a visit as one claim of the exchange contract, and their serial numbers."""
        visit = self._visit(call, data.mdtrt_id, data.psn_no, "input.data")
        lines = self._lines(call, data.mdtrt_id, waiting=True, medins_setl_id=f"{data.mdtrt_id}-{data.chrg_bchno}")
        if not lines:
            settled = bool(self._lines(call, data.mdtrt_id, waiting=False))
            raise InputError("input.data.mdtrt_id", f"visit {data.mdtrt_id} has no fee lines waiting"
                             + (": it is settled; upload new lines to bill it again" if settled else
                                ": upload them first (2204)"),
                             code=RefusalCode.VISIT_SETTLED if settled else RefusalCode.NO_FEE_LINES)
        records = [json.loads(row.record) for row in lines]
        total = sum((Decimal(r["det_item_fee_sumamt"]) for r in records), ZERO)
        if total != data.medfee_sumamt:
            raise InputError("input.data.medfee_sumamt", f"{data.medfee_sumamt} is not the uploaded lines' total "
                             f"{total}", code=RefusalCode.MEDFEE_MISMATCH)
        day, today = date.fromisoformat(visit.day), self.today()
        claim: dict[str, Any] = {
            "date": day, "medins_setl_id": f"{data.mdtrt_id}-{data.chrg_bchno}", "psn_no": data.psn_no,
            "fixmedins_code": visit.fixmedins_code, "acct_used_flag": data.acct_used_flag,
            "items": [{name: r[name] for name in ITEM_FIELDS if r[name] is not None} for r in records],
            **({"setl_date": today} if today != day else {}),
        }
        if data.med_type == PHARMACY:
            prescriptions = {r["rx_no"] for r in records}
            if len(prescriptions) != 1 or None in prescriptions:
                raise InputError("input.feedetail.rx_no", "a pharmacy bill's lines name one e-prescription (rx_no)",
                                 code=RefusalCode.RX_NO_MISSING)
            claim.update(type="purchase.settled", rx_no=prescriptions.pop())
        else:
            claim.update(type="visit.settled", mdtrt_id=data.mdtrt_id, med_type=data.med_type)
        return claim, [r["feedetl_sn"] for r in records]

    def presettle(self, call: Call) -> dict[str, Any]:
        """2206: what 2207 would give, booking nothing."""
        data = validated(t.SettleInput, call.envelope.input).data
        claim, _ = self._claim(call, data)
        result = self.ledger.presettle([as_message(claim)])[0]
        if isinstance(result, LedgerError):
            raise result
        return setlinfo(result, mdtrt_id=data.mdtrt_id, chrg_bchno=data.chrg_bchno)

    def _settled(self, medins_setl_id: str) -> Settlement | None:
        try:
            return self.ledger.get_settlement(medins_setl_id)
        except UnknownError:
            return None

    def settle(self, call: Call) -> dict[str, Any]:
        """2207: settle a visit's waiting lines; a retry for the same bill answers the settlement booked."""
        data = validated(t.SettleInput, call.envelope.input).data
        medins_setl_id = f"{data.mdtrt_id}-{data.chrg_bchno}"
        found = self._settled(medins_setl_id)
        if found is None:
            claim, taken = self._claim(call, data)
            msg = as_message(claim)
            self._reserve(call, data.mdtrt_id, taken, medins_setl_id)
            outcome = self.book(call, msg)
            if isinstance(outcome, LedgerError):
                with call.transaction() as conn:
                    self._take(conn, data.mdtrt_id, taken, None)
                raise outcome
            found = self.ledger.get_settlement(medins_setl_id)
        else:
            self._visit(call, data.mdtrt_id, data.psn_no, "input.data")
            if found.reversed_on is not None:
                raise InputError("input.data.chrg_bchno", f"{medins_setl_id} was reversed on {found.reversed_on}: "
                                 "settle again under a new chrg_bchno", code=RefusalCode.ALREADY_REVERSED)
            taken = [line["feedetl_sn"] for line in found.claim["lines"]]
        setl_id = found.setl_id
        call.write_with_answer(lambda conn: self._take(conn, data.mdtrt_id, taken, setl_id))
        return setlinfo(self.ledger.settlement_summary(found), mdtrt_id=data.mdtrt_id, chrg_bchno=data.chrg_bchno)

    def reverse(self, call: Call) -> dict[str, Any]:
        """2208: reverse a settlement; its lines wait again, to be settled anew or cancelled."""
        data = validated(t.ReverseInput, call.envelope.input).data
        found = self._own_settlement(call, data.setl_id, data.psn_no)
        if not found.medins_setl_id.startswith(f"{data.mdtrt_id}-") and found.mdtrt_id != data.mdtrt_id:
            raise InputError("input.data.mdtrt_id", f"settlement {data.setl_id} is not of visit {data.mdtrt_id}",
                             code=RefusalCode.VISIT_FOREIGN)
        msg = as_message({"type": "settlement.reversed", "date": self.today(), "setl_id": found.setl_id,
                          "reason": "2208"})
        with submitted_by(call.submitter), call.writing:
            outcome = self.ledger.book_one(msg)
        if isinstance(outcome, LedgerError):
            raise outcome
        with call.transaction() as conn:
            self._take(conn, data.mdtrt_id, [line["feedetl_sn"] for line in found.claim["lines"]], None)
        return setlinfo(self.ledger.settlement_summary(self.ledger.get_settlement(found.setl_id)),
                        mdtrt_id=data.mdtrt_id)

    # ---------------------------------------------------------------- queries

    def _own_settlement(self, call: Call, setl_id: str, psn_no: str | None) -> Settlement:
        found = self.ledger.get_settlement(setl_id)
        call.check_owns(found.fixmedins_code, f"settlement {setl_id}")
        if psn_no is not None and found.psn_no != psn_no:
            raise InputError("input.data.psn_no", f"settlement {setl_id} is not {psn_no}'s",
                             code=RefusalCode.VISIT_FOREIGN)
        return found

    def settlement(self, call: Call) -> dict[str, Any]:
        """5203: a settlement, with who submitted it (an institution sees only its own)."""
        data = validated(t.SettlementQueryInput, call.envelope.input).data
        view = self.ledger.settlement_view(self._own_settlement(call, data.setl_id, data.psn_no))
        return {**setlinfo(view), "submitted_by": view["submitted_by"]}

    def person(self, call: Call) -> dict[str, Any]:
        """1101: who the member is, their benefit type and account balance today."""
        data = validated(t.PersonQueryInput, call.envelope.input).data
        psn_no = data.psn_no or data.mdtrt_cert_no
        if not psn_no:
            raise InputError("input.data.psn_no", "give psn_no or mdtrt_cert_no", code=RefusalCode.INVALID_INPUT)
        with self._reading() as s:
            member = s.member(psn_no, "input.data.psn_no")
        today = self.today()
        paused = next((start for start, until, *_ in member.suspensions
                       if start <= today and (until is None or today < until)), None)
        left = member.left is not None and today >= member.left[0]
        psn_type = member.benefit_type_on(today)
        return {
            "baseinfo": {"psn_no": psn_no, "insuplc_admdvs": member.admdvs, "psn_type": psn_type,
                         "enrolled_on": member.enrolled_on},
            "insuinfo": [{"insutype": "310", "psn_type": psn_type, "balc": member.spendable_on(today),
                          "insuplc_admdvs": member.admdvs, "paus_insu_date": paused,
                          "psn_insu_stas": "4" if left else "2" if paused else "1"}],
        }

    def cumulative(self, call: Call) -> dict[str, Any]:
        """5206: the year's pooling paid, deductible paid and cap remaining, through month ``cum_ym``."""
        data = validated(t.CumulativeInput, call.envelope.input).data
        digits = data.cum_ym.replace("-", "")
        year, month = int(digits[:4]), f"{digits[:4]}-{digits[4:]}"
        with self.follower.reading():
            cap = self.ledger.cap(data.psn_no, year, as_of=month_end(month))
        return {"cuminfo": [{"insutype": "310", "year": year, "cum_ym": digits, "cum_type_code": code, "cum": cap[key]}
                            for code, key in (("hifp_pay", "used"), ("act_pay_dedc", "deductible_paid"),
                                              ("cap_remaining", "remaining"))]}

    def statement(self, call: Call) -> dict[str, Any]:
        """3201: the institution's month against the ledger's; ``stmt_rslt`` 0 agrees, 1 differs."""
        data = validated(t.StatementInput, call.envelope.input).data
        month = statement_month(data)
        with self.follower.reading():
            ours = self.ledger.reconcile(call.institution(), month)
        theirs = {"medfee_sumamt": data.medfee_sumamt, "fund_pay_sumamt": data.fund_pay_sumamt,
                  "acct_pay": data.acct_pay, "fixmedins_setl_cnt": data.fixmedins_setl_cnt}
        ours_now = {"medfee_sumamt": ours["medfee_sumamt"], "fund_pay_sumamt": ours["fund_pay_sumamt"],
                    "acct_pay": ours["acct_pay"], "fixmedins_setl_cnt": ours["net_cnt"]}
        differs = [f"{name} {theirs[name]} ≠ {ours_now[name]}" for name in theirs if theirs[name] != ours_now[name]]
        return {"stmtinfo": {"setl_optins": data.setl_optins, "stmt_rslt": "1" if differs else "0",
                             "stmt_rslt_dscr": "; ".join(differs) or "agrees", "month": month, **ours_now}}
