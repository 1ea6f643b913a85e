"""Exchange messages (DESIGN.md §3): one JSON object per line, each with a ``type`` and a ``date``.

The field names are the national medical insurance platform's wherever one exists, so a
hospital system's engineers recognise them. These pydantic models are the contract: the
JSON Schema that ``ledger schema`` prints is generated from them.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ledger.periods import parse_month
from ledger.refusals import RefusalCode

_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class ExponentNumber:
    """A JSON number written with an exponent (``1E2``): kept as its text, so every field refuses it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _plain_decimal(value: Any) -> Any:
    """Take an amount as a decimal string or an exact JSON number, never through a float.

    ``"12.50"``, ``12.50`` (read from JSON as a Decimal) and ``12`` pass; ``"1E2"``, ``" 5.00 "``,
    ``true`` and a binary float are refused: each could hide a typing slip or a rounding.
    """
    if isinstance(value, str) and _PLAIN_DECIMAL.fullmatch(value):
        return Decimal(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, Decimal) and isinstance(exponent := value.as_tuple().exponent, int) and exponent <= 0:
        return value
    raise PydanticCustomError(
        RefusalCode.BAD_AMOUNT, 'must be a plain decimal such as "12.50" (no exponent, spaces or float)')


def _exact(places: int, *, limit: Decimal, positive: bool = False):
    def check(value: Decimal) -> Decimal:
        if not value.is_finite():
            msg = "must be a finite number"
            raise ValueError(msg)
        if value < 0:
            msg = "must not be negative"
            raise ValueError(msg)
        if positive and value == 0:
            msg = "must be greater than zero"
            raise ValueError(msg)
        if value > limit:
            raise PydanticCustomError(RefusalCode.AMOUNT_OVER_LIMIT, "must not exceed {limit}", {"limit": str(limit)})
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -places:
            msg = f"must have at most {places} decimal places"
            raise ValueError(msg)
        # One written form per value, so "6000.5" and "6000.50" are the same content.
        if places == 2:
            return value.quantize(Decimal("0.01"))
        return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()

    return check


MAX_MONEY = Decimal("999999999999.99")
"""A ceiling far above any real amount (a trillion yuan), so every sum fits the read models' integer fen."""
MAX_PRICE = Decimal(10_000_000)
MAX_QUANTITY = Decimal(100_000)
"""A line is at most ten million yuan a unit times a hundred thousand units."""


Money = Annotated[Decimal, BeforeValidator(_plain_decimal), AfterValidator(_exact(2, limit=MAX_MONEY))]
"""Yuan with at most two decimals, not negative."""
PositiveMoney = Annotated[Decimal, BeforeValidator(_plain_decimal),
                          AfterValidator(_exact(2, limit=MAX_MONEY, positive=True))]
"""Yuan with at most two decimals, greater than zero."""
Price = Annotated[Decimal, BeforeValidator(_plain_decimal), AfterValidator(_exact(6, limit=MAX_PRICE))]
"""A unit price: the platform carries up to six decimals."""
Quantity = Annotated[Decimal, BeforeValidator(_plain_decimal),
                     AfterValidator(_exact(4, limit=MAX_QUANTITY, positive=True))]
"""A quantity dispensed or billed: greater than zero, up to four decimals."""
Score = Annotated[Decimal, BeforeValidator(_plain_decimal), AfterValidator(_exact(2, limit=Decimal(100)))]
"""An assessment score out of 100, up to two decimals."""

IDENTIFIER = r"^[0-9A-Za-z._:/#-]{1,64}$"
"""Identifiers (codes, keys, serial numbers): 1 to 64 of ASCII letters, digits and ``. _ : / # -``."""
Code = Annotated[str, Field(pattern=IDENTIFIER)]


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Unicode's control characters (category Cc)."""


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        msg = "must not contain control characters"
        raise ValueError(msg)
    return value


Text = Annotated[str, Field(max_length=200), AfterValidator(_printable)]
"""Free text (names, reasons): any printable characters, no control characters, at most 200."""


def _iso_day(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    msg = "must be a date written YYYY-MM-DD"
    raise ValueError(msg)


Day = Annotated[date, BeforeValidator(_iso_day)]
"""A calendar date, written YYYY-MM-DD (not a timestamp, not a number)."""

Beneficiary = Literal["self", "spouse", "parent", "child", "other"]
Purpose = Literal[
    "medical",
    "pharmacy",
    "resident_contribution",
    "supplementary_insurance",
    "fitness",
    "wellness",
    "public_health",
]
Exclusion = Literal["health_checkup", "work_injury", "third_party", "public_health"]
Category = Literal[
    "city_level3_general",
    "city_tcm",
    "city_maternal_child",
    "county_general",
    "county_tcm",
    "county_maternal_child",
    "community_health_center",
    "township_health_center",
    "specialist",
    "village_clinic",
]


class Message(BaseModel):
    """Common shape: a ``type`` naming the fact, and the ``date`` it takes effect."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    date: Day
    """The message's effective (business) date."""
    backfill: StrictBool = False
    """The sender knows the date is far from the log's present (a migration, a late batch): book it anyway."""

    def key(self) -> str:
        """The business key that makes the message idempotent."""
        raise NotImplementedError

    @cached_property
    def _fingerprint(self) -> str:
        """Computed once per message: a handler may ask more than once.

        The JSON of the validated model: fields in their declared order, amounts in one
        written form, so the same content always hashes the same. ``backfill`` says how the
        message arrives, not what it says, so it is left out.
        """
        return hashlib.sha256(self.model_dump_json(exclude={"backfill"}).encode()).hexdigest()[:32]

    def fingerprint(self) -> str:
        """A hash of the message's content: the same key with another fingerprint is refused."""
        return self._fingerprint


class InstitutionRegistered(Message):
    """A designated institution (定点医药机构): hospital or pharmacy, its level and designation."""

    type: Literal["institution.registered"]
    fixmedins_code: Code
    fixmedins_name: Text = ""
    admdvs: Code
    kind: Literal["hospital", "pharmacy"]
    level: Literal[1, 2, 3] | None = None
    """Hospital level: 1 = primary and below (基层), 2, 3. Pharmacies have none."""
    pooling_designated: StrictBool
    """Designated for outpatient pooling (门诊统筹定点)."""
    category: Category | None = None
    """Jiaozuo's cost-baseline category (焦医保〔2024〕32号 四（一）1)."""
    cost_history: dict[int, Money] | None = None
    """Specialists: own outpatient cost per visit of past years, for the 1:2:7 baseline."""
    covid_depressed_years: list[int] = []
    """Years of ``cost_history`` depressed by COVID (the three-best-of-five rule)."""
    provincial_class_average: Money | None = None
    """The provincial average cost per visit of the class, the specialist baseline's cap."""
    remote_direct_settlement: bool = False
    """Offers remote-area direct settlement (异地就医直接结算) to members registered elsewhere."""

    @model_validator(mode="after")
    def _hospitals_have_levels(self) -> InstitutionRegistered:
        if self.kind == "hospital" and self.level is None:
            msg = "level: a hospital needs a level (1, 2 or 3)"
            raise ValueError(msg)
        if self.kind == "pharmacy" and self.level is not None:
            msg = "level: a pharmacy has no level"
            raise ValueError(msg)
        return self

    def key(self) -> str:  # noqa: D102
        return self.fixmedins_code


class MemberEnrolled(Message):
    """A member joins the employee scheme of a region."""

    type: Literal["member.enrolled"]
    psn_no: Code
    admdvs: Code
    psn_type: Literal["11", "12"]
    """11 in service (在职), 12 retired (退休)."""
    contribution_base: Money
    family_doctor_fixmedins_code: Code | None = None
    employment_category: Literal["employee", "flexible"] = "employee"
    """An employee of an employer, or a flexible worker (灵活就业人员: outside Xinyang's scheme, 第三条)."""

    def key(self) -> str:  # noqa: D102
        return self.psn_no


class _MemberFact(Message):
    psn_no: Code

    def key(self) -> str:
        return f"{self.psn_no}/{self.type}/{self.date.isoformat()}"


class MemberRetired(_MemberFact):
    """Retirement processed (在职转退休) on ``date``; benefits switch from the next month."""

    type: Literal["member.retired"]

    def key(self) -> str:  # noqa: D102
        return f"{self.psn_no}/{self.type}"


class FamilyDoctorSigned(_MemberFact):
    """A family-doctor contract (家庭医生签约) with a primary institution."""

    type: Literal["member.family_doctor_signed"]
    fixmedins_code: Code


class MemberSuspended(_MemberFact):
    """Benefits suspended (待遇暂停): arrears or a waiting period."""

    type: Literal["member.suspended"]
    reason: Literal["arrears", "waiting_period", "other"] = "arrears"


class MemberResumed(_MemberFact):
    """Benefits resumed after a suspension."""

    type: Literal["member.resumed"]


class MemberAdmitted(_MemberFact):
    """Admitted to hospital: no outpatient pooling while admitted."""

    type: Literal["member.admitted"]
    fixmedins_code: Code


class MemberDischarged(_MemberFact):
    """Discharged from hospital."""

    type: Literal["member.discharged"]


class ContributionBaseChanged(_MemberFact):
    """A new contribution base (缴费基数), from the month of ``date``."""

    type: Literal["member.contribution_base_changed"]
    contribution_base: Money


class MemberTransferredOut(_MemberFact):
    """Left the region (调离); the account balance is paid out (信政办〔2022〕23号 第十二条)."""

    type: Literal["member.transferred_out"]
    destination: Text = ""

    def key(self) -> str:  # noqa: D102
        return f"{self.psn_no}/{self.type}"


class MemberDeceased(_MemberFact):
    """Death; the account balance passes to the recorded heir (第十二条)."""

    type: Literal["member.deceased"]
    heir: Annotated[Text, Field(min_length=1)]

    def key(self) -> str:  # noqa: D102
        return f"{self.psn_no}/{self.type}"


def _within_limit(what: str, amount: Decimal) -> None:
    """Refuse an amount the read models could not hold in integer fen."""
    if amount > MAX_MONEY:
        raise PydanticCustomError(RefusalCode.AMOUNT_OVER_LIMIT, "{what} {amount} passes the limit {limit}",
                                  {"what": what, "amount": str(amount), "limit": str(MAX_MONEY)})


class BillItem(BaseModel):
    """One bill line (费用明细)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feedetl_sn: Code
    med_list_codg: Code
    name: Text = ""
    cnt: Quantity
    pric: Price
    pric_uplmt_amt: Price | None = None
    """The payment standard (支付标准); the part of the price above it is self-paid."""
    chrgitm_lv: Literal["01", "02", "03"]
    """01 category A (甲), 02 category B (乙), 03 outside the catalog (丙)."""
    exclusion: Exclusion | None = None
    """A cost the pooling fund never pays (health check-up, work injury, …)."""
    lmt_used_flag: bool | None = None
    """The prescriber states the use is within the item's restricted scope (限定支付范围, its indication)."""
    det_item_fee_sumamt: Money | None = None
    """Carried, not used: the sender's own line total (明细项目费用总额); the ledger computes cnt × pric."""
    medins_list_codg: Code | None = None
    """Carried, not used: the institution's own catalogue code for the item (医药机构目录编码)."""
    spec: Text = ""
    """Carried, not used: the item's specification (规格)."""

    @model_validator(mode="after")
    def _line_within_limit(self) -> BillItem:
        _within_limit("cnt × pric", self.cnt * self.pric)
        return self


def _unique_lines(items: list[BillItem]) -> list[BillItem]:
    seen = set()
    for item in items:
        if item.feedetl_sn in seen:
            msg = f"feedetl_sn {item.feedetl_sn} appears twice"
            raise ValueError(msg)
        seen.add(item.feedetl_sn)
    return items


def _in_order(first: date, then: date | None, msg: str) -> None:
    """Refuse a date ``then`` that comes before ``first``: ``msg`` names the field and why."""
    if then is not None and then < first:
        raise ValueError(msg)


Items = Annotated[list[BillItem], Field(min_length=1), AfterValidator(_unique_lines)]


class _Claim(Message):
    medins_setl_id: Code
    psn_no: Code
    fixmedins_code: Code
    acct_used_flag: StrictBool = False
    items: Items
    setl_date: Day | None = None
    """When the bill was settled, if later than ``date`` (a late upload)."""
    insutype: Code | None = None
    """Carried, not used: the insurance type (险种类型, 310 for the employee scheme)."""
    mdtrt_cert_type: Code | None = None
    """Carried, not used: the kind of credential presented (就诊凭证类型)."""
    medfee_sumamt: Money | None = None
    """Carried, not used: the sender's own bill total; the ledger computes it from the lines."""

    def key(self) -> str:
        return self.medins_setl_id

    @model_validator(mode="after")
    def _settled_after_service(self) -> _Claim:
        _in_order(self.date, self.setl_date, "setl_date: a bill cannot be settled before the service date")
        _within_limit("items: the lines' total", sum((i.cnt * i.pric for i in self.items), Decimal(0)))
        return self


class VisitSettled(_Claim):
    """A visit's bill under a visit serial number ``mdtrt_id`` (2207)."""

    type: Literal["visit.settled"]
    mdtrt_id: Code
    med_type: Literal["11", "13"] = "11"
    """11 general outpatient, 13 emergency."""
    exclusion: Exclusion | None = None
    """The whole visit is a cost the pooling fund never pays (a health check-up, …)."""


class PrescribedDrug(BaseModel):
    """A drug on an e-prescription: how much, for how many days."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    med_list_codg: Code
    cnt: Quantity
    days: int = Field(gt=0, le=36_500)


class PrescriptionIssued(Message):
    """An e-prescription issued in a visit, flowing to any designated pharmacy."""

    type: Literal["prescription.issued"]
    rx_no: Code
    mdtrt_id: Code
    psn_no: Code
    fixmedins_code: Code
    med_type: Literal["11", "13"] = "11"
    drugs: Annotated[list[PrescribedDrug], Field(min_length=1)]
    chronic: StrictBool = False
    long_term: StrictBool = False
    """A long prescription for a listed chronic disease (up to 12 weeks); it must also be ``chronic``."""
    over_limit_reason: Text = ""
    """Why a line supplies more days than generally allowed (焦医保〔2024〕32号 二（二）「一般不超过」)."""

    def key(self) -> str:  # noqa: D102
        return self.rx_no

    @field_validator("drugs")
    @classmethod
    def _one_line_per_drug(cls, drugs: list[PrescribedDrug]) -> list[PrescribedDrug]:
        codes = [d.med_list_codg for d in drugs]
        if len(set(codes)) != len(codes):
            msg = "a drug appears twice on the prescription"
            raise ValueError(msg)
        return drugs


class PurchaseSettled(_Claim):
    """A pharmacy bill on a prescription (定点零售药店购药)."""

    type: Literal["purchase.settled"]
    rx_no: Code
    delivery_fee: Money = Decimal("0.00")
    """A delivery fee (配送费): never paid by medical insurance."""
    split_reason: Text = ""
    """Why the prescription is filled at more than one institution (Datong art. 13): required when it is."""


class AccountUsed(Message):
    """A personal-account payment outside a claim (family members, resident contributions)."""

    type: Literal["account.used"]
    psn_no: Code
    amount: PositiveMoney
    beneficiary: Beneficiary
    purpose: Purpose
    reference: Code

    def key(self) -> str:  # noqa: D102
        return f"{self.psn_no}/{self.reference}"


class SettlementReversed(Message):
    """A settlement undone (2208), by the sender's key or our ``setl_id``."""

    type: Literal["settlement.reversed"]
    medins_setl_id: Code | None = None
    setl_id: Code | None = None
    reason: Text = ""

    @model_validator(mode="after")
    def _names_a_settlement(self) -> SettlementReversed:
        if (self.medins_setl_id is None) == (self.setl_id is None):
            msg = "medins_setl_id: give exactly one of medins_setl_id and setl_id"
            raise ValueError(msg)
        return self

    def key(self) -> str:  # noqa: D102
        return f"reversal/{self.medins_setl_id or self.setl_id}"


class BudgetSet(Message):
    """A region's annual outpatient pooling budget (总额预算)."""

    type: Literal["budget.set"]
    admdvs: Code
    year: int = Field(ge=2000, le=2100)
    amount: PositiveMoney
    """Greater than zero: a region's year without a budget has no budget.set at all."""

    def key(self) -> str:  # noqa: D102
        return f"budget/{self.admdvs}/{self.year}"


class InstitutionAssessed(Message):
    """The year-end assessment score that decides how much of the deposit is returned."""

    type: Literal["institution.assessed"]
    fixmedins_code: Code
    year: int = Field(ge=2000, le=2100)
    score: Score

    def key(self) -> str:  # noqa: D102
        return f"{self.fixmedins_code}/{self.year}"


class InstitutionReviewed(Message):
    """The overspend review (焦医保〔2024〕32号 六（一）): violating cost in the sampled visits."""

    type: Literal["institution.reviewed"]
    fixmedins_code: Code
    year: int = Field(ge=2000, le=2100)
    sampled_total: PositiveMoney
    violation_amount: Money

    @model_validator(mode="after")
    def _violation_within_sample(self) -> InstitutionReviewed:
        if self.violation_amount > self.sampled_total:
            msg = "violation_amount: cannot exceed sampled_total"
            raise ValueError(msg)
        return self

    def key(self) -> str:  # noqa: D102
        return f"{self.fixmedins_code}/{self.year}"


class MonthClosed(Message):
    """Close a region's month: credit personal accounts and prepay institutions."""

    type: Literal["month.closed"]
    admdvs: Code
    month: str

    @field_validator("month")
    @classmethod
    def _is_month(cls, value: str) -> str:
        parse_month(value)
        return value

    def key(self) -> str:  # noqa: D102
        return f"month/{self.admdvs}/{self.month}"


class YearClosed(Message):
    """Close a region's year: clear every institution against what it was prepaid."""

    type: Literal["year.closed"]
    admdvs: Code
    year: int = Field(ge=2000, le=2100)

    def key(self) -> str:  # noqa: D102
        return f"year/{self.admdvs}/{self.year}"


class MemberRemoteRegistered(_MemberFact):
    """A residence registered elsewhere (异地就医备案).

    信政办〔2022〕23号 第十五条; 同医保办发〔2022〕1号 第二十三条.
    """

    type: Literal["member.remote_registered"]
    residence_admdvs: Code
    """The region of residence, where the member seeks care."""
    kind: Literal["resident", "resettled_retiree", "posted_worker"]
    """异地长期居住人员, 异地安置退休人员, 常驻异地工作人员."""
    end_date: date | None = None
    """The last day the registration covers, when it is for a fixed term."""

    @model_validator(mode="after")
    def _ends_after_start(self) -> MemberRemoteRegistered:
        _in_order(self.date, self.end_date, "end_date: a registration cannot end before it starts")
        return self


class MemberRemoteCancelled(_MemberFact):
    """The remote-area registration ends on ``date`` (the member is home again, or moved)."""

    type: Literal["member.remote_cancelled"]


class ReimbursementClaimed(Message):
    """A manual reimbursement claim (零星报销): bills the member paid in full where there was no direct settlement.

    ``date`` is when the claim was filed with the insured region (信政办〔2022〕23号 第十五条:
    no later than the March after the year of service); ``service_date`` is the visit's.
    """

    type: Literal["reimbursement.claimed"]
    claim_id: Code
    psn_no: Code
    fixmedins_code: Code
    service_date: date
    mdtrt_id: Code | None = None
    """The visit serial number on the bills; bills of one visit share one deductible. Default: the claim's own."""
    med_type: Literal["11", "13"] = "11"
    items: Items

    @model_validator(mode="after")
    def _filed_after_service(self) -> ReimbursementClaimed:
        _in_order(self.service_date, self.date, "date: a claim cannot be filed before the service date")
        return self

    def key(self) -> str:  # noqa: D102
        return self.claim_id


class _InstitutionMonth(Message):
    fixmedins_code: Code
    month: str

    @field_validator("month")
    @classmethod
    def _is_month(cls, value: str) -> str:
        parse_month(value)
        return value

    def key(self) -> str:
        return f"{self.type}/{self.fixmedins_code}/{self.month}"


class InstitutionMonthReceived(_InstitutionMonth):
    """The bureau received an institution's settlement application for ``month`` on ``date`` (结算申请).

    The national notice (医保办发〔2023〕4号 三（四）) counts 30 working days from this day for a pharmacy.
    """

    type: Literal["institution.month_received"]
    amount: Money | None = None
    """The amount the institution applied for, if given."""


class InstitutionMonthPaid(_InstitutionMonth):
    """The bureau paid the institution's ``month`` on ``date`` (拨付)."""

    type: Literal["institution.month_paid"]
    amount: Money | None = None


AnyMessage = Annotated[
    InstitutionRegistered
    | MemberEnrolled
    | MemberRetired
    | FamilyDoctorSigned
    | MemberSuspended
    | MemberResumed
    | MemberAdmitted
    | MemberDischarged
    | ContributionBaseChanged
    | MemberTransferredOut
    | MemberDeceased
    | VisitSettled
    | PrescriptionIssued
    | PurchaseSettled
    | AccountUsed
    | SettlementReversed
    | BudgetSet
    | InstitutionAssessed
    | InstitutionReviewed
    | MonthClosed
    | YearClosed
    | MemberRemoteRegistered
    | MemberRemoteCancelled
    | ReimbursementClaimed
    | InstitutionMonthReceived
    | InstitutionMonthPaid,
    Field(discriminator="type"),
]

MESSAGE_TYPES: dict[str, type[Message]] = {
    m.model_fields["type"].annotation.__args__[0]: m
    for m in get_args(get_args(AnyMessage)[0])
}

_adapter: TypeAdapter[Any] = TypeAdapter(AnyMessage)


class MessageError(ValueError):
    """Raised when a line is not a valid message: names its type, field, reason and refusal code."""

    def __init__(self, type_: str, field: str, reason: str, code: RefusalCode = RefusalCode.INVALID_VALUE) -> None:
        self.type = type_
        self.field = field
        self.reason = reason
        self.code = RefusalCode(code)
        super().__init__(f"{type_}: {field}: {reason} [{self.code}]")


MAX_DIGITS = 40
"""A JSON integer longer than this is refused before Python turns it into a number."""


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise MessageError("-", "-", f"a number of {len(text)} digits", RefusalCode.INVALID_VALUE)
    return int(text)


def _json_decimal(text: str) -> Decimal | ExponentNumber:
    """JSON numbers with a fraction are read exactly, as Decimal: never through a binary float."""
    if "e" in text or "E" in text:
        return ExponentNumber(text)
    return Decimal(text)


_DECODER = json.JSONDecoder(parse_float=_json_decimal, parse_int=_json_int)


def decode_json(text: str | bytes) -> Any:
    """Decode JSON as the exchange reads it: numbers exact (never a float), or raise :class:`MessageError`.

    Every way in (a file's line, an online request's body) decodes with this, so that a JSON
    number reaches the amount checks as the Decimal it was written as.
    """
    try:
        # UTF-8 only; a byte-order mark (a Windows editor's first line) is dropped, as before.
        return _DECODER.decode(text.decode("utf-8-sig") if isinstance(text, bytes) else text.removeprefix("\ufeff"))
    except json.JSONDecodeError as e:
        raise MessageError("-", "-", f"not JSON: {e.msg} at column {e.colno}", RefusalCode.NOT_JSON) from None
    except UnicodeDecodeError as e:
        raise MessageError("-", "-", f"not UTF-8: byte {e.start}", RefusalCode.NOT_UTF8) from None
    except RecursionError:
        raise MessageError("-", "-", "not JSON: nested too deep", RefusalCode.NOT_JSON) from None


def parse_message(line: str | bytes) -> Message:
    """Parse one JSON line into its message model, or raise :class:`MessageError`."""
    return validate_message(decode_json(line.rstrip(b"\r\n") if isinstance(line, bytes) else line.rstrip("\r\n")))


_PYDANTIC_CODES = {
    "extra_forbidden": RefusalCode.UNKNOWN_FIELD,
    "missing": RefusalCode.MISSING_FIELD,
    "string_pattern_mismatch": RefusalCode.BAD_IDENTIFIER,
}

_OWN_CODES = {c.value: c for c in RefusalCode}
"""The refusal codes our validators raise as pydantic error types."""


def _reason(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field: not in the exchange contract (see `ledger schema`)"
    if error["type"] == "string_pattern_mismatch":
        return "must be 1 to 64 of ASCII letters, digits and . _ : / # -"
    return str(error["msg"]).removeprefix("Value error, ")


def validate_message(raw: Any) -> Message:
    """Validate a decoded JSON object as a message.

    An unknown field is named before anything else is checked, since a misspelling is the
    likeliest cause of a missing one.
    """
    if not isinstance(raw, dict):
        raise MessageError("-", "-", "a message must be a JSON object", RefusalCode.NOT_AN_OBJECT)
    type_ = raw.get("type")
    if not isinstance(type_, str):
        raise MessageError("-", "type", "missing: every message names its type", RefusalCode.MISSING_TYPE)
    if type_ not in MESSAGE_TYPES:
        shown = type_ if len(type_) <= 64 and type_.isprintable() else repr(type_[:64])
        raise MessageError(shown, "type", f"unknown message type (known: {', '.join(MESSAGE_TYPES)})",
                           RefusalCode.UNKNOWN_TYPE)
    try:
        return MESSAGE_TYPES[type_].model_validate(raw)
    except ValidationError as e:
        errors = e.errors()
        first = next((x for x in errors if x["type"] == "extra_forbidden"), errors[0])
        loc = ".".join(str(p) for p in first["loc"])
        loc = loc if loc.isprintable() and len(loc) <= 100 else repr(loc[:100])
        reason = _reason(first)
        if ": " in reason and not loc:
            loc, _, reason = reason.partition(": ")
        code = _PYDANTIC_CODES.get(first["type"]) or _OWN_CODES.get(first["type"], RefusalCode.INVALID_VALUE)
        raise MessageError(type_, loc or "-", reason, code) from None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of every message type (what ``ledger schema`` prints)."""
    schema = _adapter.json_schema(mode="validation")
    schema["title"] = "yibao-ledger exchange message"
    return schema
