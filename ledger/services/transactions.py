"""The online service's messages: the platform's envelopes and each transaction's ``input``.

Field names are the national platform's (``infno``, ``msgid``, ``fixmedins_code``, …); fields
may be added, none renamed. Amounts are accepted as JSON numbers or decimal strings and read
exactly (the request body is decoded with Decimal for numbers, never float); the answers carry
decimal strings with two places. These models are the service's OpenAPI schema.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from ledger.exchange.messages import Code, Money, Price, Quantity


def _day(value: Any) -> Any:
    """The platform's ``yyyy-MM-dd HH:mm:ss`` (or a bare date): the date is what the ledger keeps."""
    if isinstance(value, str) and len(value) > 10:
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            return value
    return value


def _flag(value: Any) -> Any:
    """The platform writes flags as ``"1"``/``"0"``."""
    return {"1": True, "0": False}.get(value, value) if isinstance(value, str) else value


Day = Annotated[date, BeforeValidator(_day)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Text = Annotated[str, Field(max_length=200)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RequestEnvelope(_Input):
    """The platform's request: who sends which transaction, and its ``input``."""

    infno: Annotated[str, Field(min_length=4, max_length=8)]
    msgid: Annotated[str, Field(min_length=1, max_length=64)]
    """The sender's unique message id (fixmedins_code + yyyyMMddHHmmss + a sequence)."""
    mdtrtarea_admvs: Text = ""
    insuplc_admdvs: Text = ""
    recer_sys_code: Text = ""
    infver: Text = ""
    opter_type: Text = ""
    opter: Text = ""
    opter_name: Text = ""
    inf_time: Text = ""
    fixmedins_code: Text = ""
    fixmedins_name: Text = ""
    sign_no: Text = ""
    input: dict[str, Any] = {}


class ResponseEnvelope(BaseModel):
    """The platform's answer: ``infcode`` 0 with ``output``, or -1 with ``err_msg``."""

    infcode: Literal[0, -1]
    inf_refmsgid: str
    refmsg_time: str
    respond_time: str
    err_msg: str | None
    output: dict[str, Any] | None


class SignIn(_Input):
    """9001 sign-in."""

    opter_no: Text = ""
    mac: Text = ""
    ip: Text = ""


class SignInInput(_Input):
    """9001's input."""

    signIn: SignIn


class PersonQuery(_Input):
    """1101 person info: by ``psn_no``, or by a certificate whose number is the ``psn_no``."""

    psn_no: Code | None = None
    mdtrt_cert_type: Text = ""
    mdtrt_cert_no: Code | None = None


class Registration(_Input):
    """2201 outpatient registration: the ledger assigns the visit's ``mdtrt_id``."""

    psn_no: Code
    insutype: Text = "310"
    begntime: Day
    mdtrt_cert_type: Text = ""
    mdtrt_cert_no: Text = ""
    ipt_otp_no: Text = ""
    atddr_no: Text = ""
    dr_name: Text = ""
    dept_code: Text = ""
    dept_name: Text = ""
    caty: Text = ""


class FeeLine(_Input):
    """2204 one fee line, with our contract's ``chrgitm_lv`` and ``pric_uplmt_amt``."""

    feedetl_sn: Code
    mdtrt_id: Code
    psn_no: Code
    med_type: Text = ""
    fee_ocur_time: Day | None = None
    med_list_codg: Code
    medins_list_codg: Text = ""
    name: Text = ""
    det_item_fee_sumamt: Money
    cnt: Quantity
    pric: Price
    pric_uplmt_amt: Price | None = None
    chrgitm_lv: Literal["01", "02", "03"]
    exclusion: Literal["health_checkup", "work_injury", "third_party", "public_health"] | None = None
    rx_no: Code | None = None
    """A pharmacy's line: the e-prescription it fills."""


def _unique(lines: list[FeeLine]) -> list[FeeLine]:
    if len({line.feedetl_sn for line in lines}) != len(lines):
        msg = "a feedetl_sn appears twice"
        raise ValueError(msg)
    return lines


class FeeUpload(_Input):
    """2204's input: the fee lines."""

    feedetail: Annotated[list[FeeLine], Field(min_length=1, max_length=1000), AfterValidator(_unique)]


class FeeCancel(_Input):
    """2205: cancel uploaded lines not yet settled (``feedetl_sn`` ``0000``: all of them)."""

    mdtrt_id: Code
    psn_no: Code
    feedetl_sn: Code = "0000"


class Settle(_Input):
    """2206 pre-settle and 2207 settle a registered visit's uploaded lines."""

    psn_no: Code
    mdtrt_cert_type: Text = ""
    mdtrt_cert_no: Text = ""
    med_type: Literal["11", "13", "41"] = "11"
    """11 general outpatient, 13 emergency, 41 pharmacy purchase."""
    medfee_sumamt: Money
    psn_setlway: Text = "01"
    mdtrt_id: Code
    chrg_bchno: Annotated[str, Field(min_length=1, max_length=40)]
    """The bill's batch number: ``mdtrt_id-chrg_bchno`` is the bill's key (``medins_setl_id``)."""
    insutype: Text = "310"
    acct_used_flag: Flag = False


class Reverse(_Input):
    """2208 reverse a settlement."""

    setl_id: Code
    mdtrt_id: Code
    psn_no: Code


class Statement(_Input):
    """3201 reconcile an institution's totals for one calendar month."""

    insutype: Text = "310"
    clr_type: Text = "11"
    setl_optins: Text = ""
    stmt_begndate: Day
    stmt_enddate: Day
    medfee_sumamt: Money
    fund_pay_sumamt: Money
    acct_pay: Money
    fixmedins_setl_cnt: Annotated[int, Field(ge=0)]


class SettlementQuery(_Input):
    """5203 a settlement (the institution's own)."""

    setl_id: Code
    psn_no: Code | None = None
    mdtrt_id: Code | None = None


class Cumulative(_Input):
    """5206 cumulative figures of a member's year, through the month ``cum_ym`` (yyyyMM)."""

    psn_no: Code
    cum_ym: Annotated[str, Field(pattern=r"^\d{4}(-?)(0[1-9]|1[0-2])$")]


class RegistrationInput(_Input):
    """2201's input."""

    data: Registration


class FeeCancelInput(_Input):
    """2205's input."""

    data: FeeCancel


class PersonQueryInput(_Input):
    """1101's input."""

    data: PersonQuery


class SettleInput(_Input):
    """2206's and 2207's input."""

    data: Settle


class ReverseInput(_Input):
    """2208's input."""

    data: Reverse


class StatementInput(_Input):
    """3201's input."""

    data: Statement


class SettlementQueryInput(_Input):
    """5203's input."""

    data: SettlementQuery


class CumulativeInput(_Input):
    """5206's input."""

    data: Cumulative


class MessageInput(_Input):
    """Our numbered transactions (8xxx): ``data`` is one exchange message of the ledger's contract."""

    data: dict[str, Any]
