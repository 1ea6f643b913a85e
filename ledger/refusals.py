"""Every refusal code the ledger gives, with what it means and the article it rests on.

The codes are part of the exchange contract: they are stored in the log (a settlement the
pooling fund refuses records its code) and printed to the platform's clients, so a member's
string never changes. ``docs/refusals.md`` is generated from this table (``ledger refusals``).

Three effects: a *message* refusal books nothing; a *pooling* refusal settles the claim with
the pooling fund paying nothing; a *command* refusal is a query or a command line the ledger
cannot answer.
"""

from __future__ import annotations

from enum import StrEnum

MESSAGE = "message refused, nothing booked"
POOLING = "claim settled, the pooling fund pays nothing"
COMMAND = "command refused"
SERVICE = "request refused (infcode -1), nothing booked"

XINYANG = "信政办〔2022〕23号"
DATONG = "同医保办发〔2022〕1号"
JIAOZUO = "焦医保〔2024〕32号"
KAIFENG = "汴医保〔2023〕29号"
NATIONAL = "医保办发〔2023〕4号"


class RefusalCode(StrEnum):
    """A stable reason code; its ``meaning``, ``article`` and ``effect`` are in ``ABOUT``."""

    # The line itself (parsing and the schema).
    NOT_JSON = "not_json"
    NOT_UTF8 = "not_utf8"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_TYPE = "missing_type"
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    INVALID_VALUE = "invalid_value"
    BAD_IDENTIFIER = "bad_identifier"
    BAD_AMOUNT = "bad_amount"
    AMOUNT_OVER_LIMIT = "amount_over_limit"
    DATE_OUT_OF_WINDOW = "date_out_of_window"
    # What the message names.
    UNKNOWN_MEMBER = "unknown_member"
    UNKNOWN_INSTITUTION = "unknown_institution"
    UNKNOWN_PRESCRIPTION = "unknown_prescription"
    UNKNOWN_SETTLEMENT = "unknown_settlement"
    UNKNOWN_POLICY_VERSION = "unknown_policy_version"
    UNKNOWN_REGION = "unknown_region"
    UNKNOWN_VISIT = "unknown_visit"
    NO_POLICY_IN_FORCE = "no_policy_in_force"
    KEY_REUSED = "key_reused"
    WRITE_CONFLICT = "write_conflict"
    # Members.
    NOT_ENROLLED_YET = "not_enrolled_yet"
    MEMBER_LEFT = "member_left"
    ALREADY_RETIRED = "already_retired"
    ALREADY_SUSPENDED = "already_suspended"
    NOT_SUSPENDED = "not_suspended"
    ALREADY_ADMITTED = "already_admitted"
    NOT_ADMITTED = "not_admitted"
    ALREADY_CREDITED = "already_credited"
    FAMILY_DOCTOR_NOT_PRIMARY = "family_doctor_not_primary"
    # Claims.
    CROSS_REGION = "cross_region"
    NOT_A_HOSPITAL = "not_a_hospital"
    NOT_A_PHARMACY = "not_a_pharmacy"
    NOT_A_CLAIM = "not_a_claim"
    VISIT_FOREIGN = "visit_foreign"
    LATE_UPLOAD_OUTSIDE_WINDOW = "late_upload_outside_window"
    ALREADY_REVERSED = "already_reversed"
    REVERSAL_BEFORE_SETTLEMENT = "reversal_before_settlement"
    BAD_SETL_ID = "bad_setl_id"
    REIMBURSEMENT_LATE = "reimbursement_late"
    REIMBURSEMENT_NOT_REMOTE = "reimbursement_not_remote"
    REMOTE_NO_DIRECT_SETTLEMENT = "remote_no_direct_settlement"
    REMOTE_SAME_REGION = "remote_same_region"
    REMOTE_ALREADY_REGISTERED = "remote_already_registered"
    REMOTE_NOT_REGISTERED = "remote_not_registered"
    REMOTE_NOT_RETIRED = "remote_not_retired"
    # Prescriptions.
    PRESCRIBER_NOT_HOSPITAL = "prescriber_not_hospital"
    RX_FOREIGN = "rx_foreign"
    RX_DAYS_OVER_LIMIT = "rx_days_over_limit"
    RX_NOT_YET_ISSUED = "rx_not_yet_issued"
    RX_EXPIRED = "rx_expired"
    RX_DRUG_NOT_PRESCRIBED = "rx_drug_not_prescribed"
    RX_QUANTITY_EXCEEDED = "rx_quantity_exceeded"
    RX_DRUG_BOUGHT_ELSEWHERE = "rx_drug_bought_elsewhere"
    RX_LONG_TERM_NOT_CHRONIC = "rx_long_term_not_chronic"
    SPLIT_REASON_MISSING = "split_reason_missing"
    # The personal account.
    INSUFFICIENT_BALANCE = "insufficient_balance"
    ACCOUNT_USE_FORBIDDEN = "account_use_forbidden"
    ACCOUNT_BENEFICIARY_REFUSED = "account_beneficiary_refused"
    ACCOUNT_USE_REFUSED = "account_use_refused"
    # Periods and clearing.
    MONTH_NOT_OVER = "month_not_over"
    MONTH_CLOSED = "month_closed"
    MONTH_OUT_OF_ORDER = "month_out_of_order"
    YEAR_CLOSED = "year_closed"
    DECEMBER_OPEN = "december_open"
    NO_BUDGET = "no_budget"
    CATEGORY_MISSING = "category_missing"
    BASELINE_HISTORY_MISSING = "baseline_history_missing"
    NOT_CLEARED = "not_cleared"
    BASELINES_MISSING = "baselines_missing"
    PREPAYMENT_PENDING = "prepayment_pending"
    NO_PAYMENT_SCHEME = "no_payment_scheme"
    EARLIER_MONTH_PENDING = "earlier_month_pending"
    MONTH_NOT_ENDED = "month_not_ended"
    MONTH_ALREADY_RECEIVED = "month_already_received"
    MONTH_NOT_RECEIVED = "month_not_received"
    PAID_BEFORE_RECEIVED = "paid_before_received"
    MONTH_ALREADY_PAID = "month_already_paid"
    # The pooling fund pays nothing (the claim is still settled).
    EXCLUDED_HEALTH_CHECKUP = "excluded_health_checkup"
    EXCLUDED_WORK_INJURY = "excluded_work_injury"
    EXCLUDED_THIRD_PARTY = "excluded_third_party"
    EXCLUDED_PUBLIC_HEALTH = "excluded_public_health"
    HOSPITALISED = "hospitalised"
    SUSPENDED = "suspended"
    INSTITUTION_NOT_DESIGNATED = "institution_not_designated"
    PRESCRIBER_NOT_DESIGNATED = "prescriber_not_designated"
    FLEXIBLE_WORKER = "flexible_worker"
    TEMPORARY_TRIP = "temporary_trip"
    REMOTE_NOT_DESIGNATED = "remote_not_designated"
    # Commands.
    BAD_ARGUMENT = "bad_argument"
    BAD_KNOWN_AT = "bad_known_at"
    BAD_POLICY_FILE = "bad_policy_file"
    BAD_DATABASE_URL = "bad_database_url"
    STORE_MISSING = "store_missing"
    STORE_FOREIGN = "store_foreign"
    STORE_UNAVAILABLE = "store_unavailable"
    FILE_UNUSABLE = "file_unusable"
    INTERRUPTED = "interrupted"
    # The online service (infcode -1, nothing booked).
    UNSIGNED = "unsigned"
    BAD_TIMESTAMP = "bad_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    BAD_NONCE = "bad_nonce"
    REPLAYED_NONCE = "replayed_nonce"
    BAD_SIGNATURE = "bad_signature"
    BAD_PAASID = "bad_paasid"
    BAD_ROLE = "bad_role"
    UNKNOWN_PAASID = "unknown_paasid"
    FORBIDDEN_ROLE = "forbidden_role"
    FOREIGN_INSTITUTION = "foreign_institution"
    MISSING_FIXMEDINS_CODE = "missing_fixmedins_code"
    UNKNOWN_INFNO = "unknown_infno"
    MSGID_REUSED = "msgid_reused"
    MSGID_IN_FLIGHT = "msgid_in_flight"
    WRONG_MESSAGE_TYPE = "wrong_message_type"
    INVALID_INPUT = "invalid_input"
    INVALID_MESSAGE = "invalid_message"
    BODY_TOO_LARGE = "body_too_large"
    INTERNAL_ERROR = "internal_error"
    STATEMENT_NOT_A_MONTH = "statement_not_a_month"
    LINE_AMOUNT_MISMATCH = "line_amount_mismatch"
    LINE_REUSED = "line_reused"
    MEDFEE_MISMATCH = "medfee_mismatch"
    NO_SUCH_WAITING_LINE = "no_such_waiting_line"
    RX_NO_MISSING = "rx_no_missing"
    VISIT_SETTLED = "visit_settled"
    VISIT_SETTLING = "visit_settling"
    NO_FEE_LINES = "no_fee_lines"

    @property
    def meaning(self) -> str:
        """What the code says, in a sentence."""
        return ABOUT[self][0]

    @property
    def article(self) -> str:
        """The document and article the refusal rests on, or ``""`` when it is the contract's own."""
        return ABOUT[self][1]

    @property
    def effect(self) -> str:
        """What happens: a refused message, a claim the fund does not pay, or a refused command."""
        return ABOUT[self][2]


C = RefusalCode
ABOUT: dict[RefusalCode, tuple[str, str, str]] = {
    C.NOT_JSON: ("the line is not a JSON value (or nests deeper than a message can)", "", MESSAGE),
    C.NOT_UTF8: ("the line is not UTF-8 text", "", MESSAGE),
    C.NOT_AN_OBJECT: ("the line is JSON but not an object", "", MESSAGE),
    C.MISSING_TYPE: ("the message names no type", "", MESSAGE),
    C.UNKNOWN_TYPE: ("the message's type is not one of the exchange's", "", MESSAGE),
    C.UNKNOWN_FIELD: ("a field the message type does not have (a misspelling is never dropped silently)", "",
                      MESSAGE),
    C.MISSING_FIELD: ("a required field is absent", "", MESSAGE),
    C.INVALID_VALUE: ("a field's value is not of its type or outside its range", "", MESSAGE),
    C.BAD_IDENTIFIER: ("an identifier uses characters outside the documented set", "", MESSAGE),
    C.BAD_AMOUNT: ("an amount is not a plain decimal (no exponent, no spaces, at most its places)", "", MESSAGE),
    C.AMOUNT_OVER_LIMIT: ("an amount, or a bill line's quantity times price, passes the ledger's money limit", "",
                          MESSAGE),
    C.DATE_OUT_OF_WINDOW: ("a date far from the log's present, in a message not marked as a backfill", "",
                           MESSAGE),
    C.UNKNOWN_MEMBER: ("no member with this psn_no was enrolled", "", MESSAGE),
    C.UNKNOWN_INSTITUTION: ("no institution with this fixmedins_code was registered", "", MESSAGE),
    C.UNKNOWN_PRESCRIPTION: ("no prescription with this rx_no was issued", "", MESSAGE),
    C.UNKNOWN_SETTLEMENT: ("no settlement with this key", "", MESSAGE),
    C.UNKNOWN_POLICY_VERSION: ("no policy version with this id", "", COMMAND),
    C.UNKNOWN_REGION: ("no policy profile or no data for this region", "", MESSAGE),
    C.UNKNOWN_VISIT: ("no visit with this mdtrt_id was registered (2201)", "", MESSAGE),
    C.NO_POLICY_IN_FORCE: ("no policy document covers the region on this date", "", MESSAGE),
    C.KEY_REUSED: ("the business key was booked before with different content", "", MESSAGE),
    C.WRITE_CONFLICT: ("other writers kept changing the same records; retry", "", MESSAGE),
    C.NOT_ENROLLED_YET: ("the fact is dated before the member's enrolment", "", MESSAGE),
    C.MEMBER_LEFT: ("the fact is dated after the member left the region", f"{XINYANG} 第十二条", MESSAGE),
    C.ALREADY_RETIRED: ("the member is already retired", "", MESSAGE),
    C.ALREADY_SUSPENDED: ("benefits are already suspended then", "", MESSAGE),
    C.NOT_SUSPENDED: ("benefits are not suspended then", "", MESSAGE),
    C.ALREADY_ADMITTED: ("the member is already in hospital then", "", MESSAGE),
    C.NOT_ADMITTED: ("the member is not in hospital then", "", MESSAGE),
    C.ALREADY_CREDITED: ("the account was already credited for the month", "", MESSAGE),
    C.FAMILY_DOCTOR_NOT_PRIMARY: ("a family doctor must be at a primary institution of the member's region",
                                  f"{XINYANG} 第五条（二）", MESSAGE),
    C.CROSS_REGION: ("the institution is in another region than the member (cross-region is not handled)", "",
                     MESSAGE),
    C.NOT_A_HOSPITAL: ("a visit settled at a pharmacy (use purchase.settled)", "", MESSAGE),
    C.NOT_A_PHARMACY: ("a purchase settled at a hospital (use visit.settled)", "", MESSAGE),
    C.NOT_A_CLAIM: ("pre-settlement takes only visit.settled and purchase.settled", "", MESSAGE),
    C.VISIT_FOREIGN: ("the visit serial number belongs to another member", "", MESSAGE),
    C.LATE_UPLOAD_OUTSIDE_WINDOW: ("settled later after the visit than the late-settlement window allows",
                                   f"{JIAOZUO} 一（一）", MESSAGE),
    C.ALREADY_REVERSED: ("the settlement was already reversed", "", MESSAGE),
    C.REVERSAL_BEFORE_SETTLEMENT: ("a reversal dated before the settlement", "", MESSAGE),
    C.BAD_SETL_ID: ("not a setl_id", "", MESSAGE),
    C.PRESCRIBER_NOT_HOSPITAL: ("prescriptions are issued by hospitals, not pharmacies", "", MESSAGE),
    C.RX_FOREIGN: ("the prescription was issued to another member", "", MESSAGE),
    C.RX_DAYS_OVER_LIMIT: ("more days supplied than a prescription may cover",
                           f"{JIAOZUO} 二（二）; {NATIONAL} 四（二）", MESSAGE),
    C.RX_NOT_YET_ISSUED: ("a purchase dated before the prescription was issued", "", MESSAGE),
    C.RX_EXPIRED: ("the prescription expired before the purchase", f"{DATONG} 第十条", MESSAGE),
    C.RX_DRUG_NOT_PRESCRIBED: ("a drug bought that is not on the prescription", "", MESSAGE),
    C.RX_QUANTITY_EXCEEDED: ("more bought than the prescription has left", "", MESSAGE),
    C.RX_DRUG_BOUGHT_ELSEWHERE: ("one drug of a prescription bought at two institutions", f"{DATONG} 第十三条",
                                 MESSAGE),
    C.INSUFFICIENT_BALANCE: ("more than the personal account holds", f"{XINYANG} 第九条", MESSAGE),
    C.ACCOUNT_USE_FORBIDDEN: ("the personal account may not pay for this purpose", f"{XINYANG} 第十条", MESSAGE),
    C.ACCOUNT_BENEFICIARY_REFUSED: ("the personal account may not pay for this relative",
                                    f"{XINYANG} 第九条（二）", MESSAGE),
    C.ACCOUNT_USE_REFUSED: ("the personal account may not pay this purpose for this beneficiary",
                            f"{XINYANG} 第九条（二）（三）", MESSAGE),
    C.MONTH_NOT_OVER: ("a month closed before its last day", "", MESSAGE),
    C.MONTH_CLOSED: ("the month is already closed", "", MESSAGE),
    C.MONTH_OUT_OF_ORDER: ("months close one after another, none skipped", "", MESSAGE),
    C.YEAR_CLOSED: ("the year is already cleared", "", MESSAGE),
    C.DECEMBER_OPEN: ("a year cleared before its December is closed", "", MESSAGE),
    C.NO_BUDGET: ("no positive budget.set for the region's year under a global budget",
                  f"{KAIFENG} 三（二）", MESSAGE),
    C.CATEGORY_MISSING: ("an institution without a cost-baseline category", f"{JIAOZUO} 四（一）3（1）", MESSAGE),
    C.BASELINE_HISTORY_MISSING: ("a specialist's cost history lacks the years its baseline needs",
                                 f"{JIAOZUO} 四（一）1", MESSAGE),
    C.NOT_CLEARED: ("the region's year is not cleared", "", COMMAND),
    C.EXCLUDED_HEALTH_CHECKUP: ("a health check-up", f"{JIAOZUO} 三; {XINYANG} 第十九条（一）", POOLING),
    C.EXCLUDED_WORK_INJURY: ("a cost the work-injury fund pays", f"{JIAOZUO} 三; {XINYANG} 第十九条（一）", POOLING),
    C.EXCLUDED_THIRD_PARTY: ("a cost a third party bears", f"{JIAOZUO} 三; {XINYANG} 第十九条（一）", POOLING),
    C.EXCLUDED_PUBLIC_HEALTH: ("a cost public health bears", f"{JIAOZUO} 三; {XINYANG} 第十九条（一）", POOLING),
    C.HOSPITALISED: ("an outpatient cost while the member is in hospital", f"{XINYANG} 第十九条（二）; {JIAOZUO} 三",
                     POOLING),
    C.SUSPENDED: ("a cost while benefits are suspended",
                  f"{XINYANG} 第十九条（三）; {DATONG} 第二十五条（五）", POOLING),
    C.INSTITUTION_NOT_DESIGNATED: ("the institution is not designated for outpatient pooling",
                                   f"{XINYANG} 第十九条（四）; {DATONG} 第二十五条（一）", POOLING),
    C.PRESCRIBER_NOT_DESIGNATED: ("the prescription comes from an institution not designated for pooling",
                                  f"{DATONG} 第二十五条（二）", POOLING),
    C.BAD_ARGUMENT: ("a command-line argument or option is not valid", "", COMMAND),
    C.BAD_KNOWN_AT: ("--known-at is neither a log position nor an ISO timestamp", "", COMMAND),
    C.BAD_POLICY_FILE: ("a policy file that cannot be read as one", "", COMMAND),
    C.BAD_DATABASE_URL: ("a database URL the ledger cannot use", "", COMMAND),
    C.STORE_MISSING: ("no ledger at this path or database (run `ledger init` to create one)", "", COMMAND),
    C.STORE_FOREIGN: ("the database holds no ledger, or is not a database", "", COMMAND),
    C.STORE_UNAVAILABLE: ("the database cannot be opened or reached", "", COMMAND),
    C.FILE_UNUSABLE: ("a file that cannot be read or written as the command needs", "", COMMAND),
    C.INTERRUPTED: ("the command was interrupted", "", COMMAND),
    C.REIMBURSEMENT_LATE: ("a manual reimbursement claim filed after the end of the following March",
                           f"{XINYANG} 第十五条", MESSAGE),
    C.REIMBURSEMENT_NOT_REMOTE: ("a manual reimbursement claim for a bill of the member's own region",
                                 f"{XINYANG} 第十四条", MESSAGE),
    C.REMOTE_NO_DIRECT_SETTLEMENT: ("the residence's institution offers no direct settlement: pay in full and claim",
                                    f"{XINYANG} 第十五条", MESSAGE),
    C.REMOTE_SAME_REGION: ("a remote-area registration in the member's own region", f"{XINYANG} 第七条", MESSAGE),
    C.REMOTE_ALREADY_REGISTERED: ("a remote-area registration overlapping one already in force",
                                  f"{XINYANG} 第七条", MESSAGE),
    C.REMOTE_NOT_REGISTERED: ("no remote-area registration is open on that date", "", MESSAGE),
    C.REMOTE_NOT_RETIRED: ("a resettled-retiree registration for a member who is not retired",
                           f"{XINYANG} 第十五条", MESSAGE),
    C.RX_LONG_TERM_NOT_CHRONIC: ("a long prescription (up to 12 weeks) is for a listed chronic disease only",
                                 f"{NATIONAL} 四（二）", MESSAGE),
    C.SPLIT_REASON_MISSING: ("a prescription dispensed at a second institution without its reason",
                             f"{DATONG} 第十三条", MESSAGE),
    C.BASELINES_MISSING: ("the year's cost baselines have not been set (they are set once a year)",
                          f"{JIAOZUO} 四（一）3", MESSAGE),
    C.PREPAYMENT_PENDING: ("a year cleared while a month's prepayment still waits for its budget",
                           f"{KAIFENG} 三（二）", MESSAGE),
    C.NO_PAYMENT_SCHEME: ("a month's prepayment waits: no payment scheme for institutions is in force", "",
                          MESSAGE),
    C.EARLIER_MONTH_PENDING: ("a month's prepayment waits for an earlier month's (months are prepaid in order)", "",
                              MESSAGE),
    C.MONTH_NOT_ENDED: ("a settlement application received before its month ended", "", MESSAGE),
    C.MONTH_ALREADY_RECEIVED: ("the month's settlement application was already received", "", MESSAGE),
    C.MONTH_NOT_RECEIVED: ("a month paid whose settlement application was never received", "", MESSAGE),
    C.PAID_BEFORE_RECEIVED: ("a month paid before its application was received", "", MESSAGE),
    C.MONTH_ALREADY_PAID: ("the month was already paid", "", MESSAGE),
    C.FLEXIBLE_WORKER: ("flexible workers are outside the employees' outpatient pooling", f"{XINYANG} 第三条", POOLING),
    C.TEMPORARY_TRIP: ("ordinary outpatient costs on a temporary trip to another region", f"{DATONG} 第二十五条（四）",
                       POOLING),
    C.REMOTE_NOT_DESIGNATED: ("a non-designated institution of the residence area",
                              f"{XINYANG} 第十九条（五）; {DATONG} 第二十五条（三）", POOLING),
    C.UNSIGNED: ("a request without the gateway's x-tif-* headers", "", SERVICE),
    C.BAD_TIMESTAMP: ("x-tif-timestamp is not Unix seconds", "", SERVICE),
    C.STALE_TIMESTAMP: ("x-tif-timestamp is more than 300 s off the service's clock", "", SERVICE),
    C.BAD_NONCE: ("x-tif-nonce is too long", "", SERVICE),
    C.REPLAYED_NONCE: ("x-tif-nonce was already used (a replayed request)", "", SERVICE),
    C.BAD_SIGNATURE: ("the signature does not match (unknown or revoked paasid, or wrong secret)", "", SERVICE),
    C.BAD_PAASID: ("a paasid is 1 to 64 characters", "", SERVICE),
    C.BAD_ROLE: ("not a role: institution, operator or regulator", "", SERVICE),
    C.UNKNOWN_PAASID: ("no live credential for the paasid", "", SERVICE),
    C.FORBIDDEN_ROLE: ("the caller's role may not call this transaction", "", SERVICE),
    C.FOREIGN_INSTITUTION: ("an institution may act only for its own fixmedins_code", "", SERVICE),
    C.MISSING_FIXMEDINS_CODE: ("the envelope names no fixmedins_code", "", SERVICE),
    C.UNKNOWN_INFNO: ("not a transaction number the service answers", "", SERVICE),
    C.MSGID_REUSED: ("the msgid was used before with another body", "", SERVICE),
    C.MSGID_IN_FLIGHT: ("the first request with the msgid is still being answered", "", SERVICE),
    C.WRONG_MESSAGE_TYPE: ("the transaction books another message type", "", SERVICE),
    C.INVALID_INPUT: ("the request's input does not fit the transaction", "", SERVICE),
    C.INVALID_MESSAGE: ("the message carried by the transaction is not valid", "", SERVICE),
    C.BODY_TOO_LARGE: ("the request body is over the service's limit", "", SERVICE),
    C.INTERNAL_ERROR: ("the service failed on this request; nothing was booked", "", SERVICE),
    C.STATEMENT_NOT_A_MONTH: ("a 3201 statement period must be one calendar month", "", SERVICE),
    C.LINE_AMOUNT_MISMATCH: ("a fee line's det_item_fee_sumamt is not cnt × pric", "", SERVICE),
    C.LINE_REUSED: ("a fee line's feedetl_sn was uploaded before with other content", "", SERVICE),
    C.MEDFEE_MISMATCH: ("medfee_sumamt is not the uploaded lines' total", "", SERVICE),
    C.NO_SUCH_WAITING_LINE: ("no uploaded, unsettled fee line with this feedetl_sn", "", SERVICE),
    C.RX_NO_MISSING: ("a pharmacy's fee lines name no e-prescription (rx_no)", "", SERVICE),
    C.VISIT_SETTLED: ("the visit is already settled", "", SERVICE),
    C.VISIT_SETTLING: ("the visit is being settled by another request", "", SERVICE),
    C.NO_FEE_LINES: ("the visit has no uploaded fee lines waiting to be settled (2204 first)", "", SERVICE),
}


def refusals_table() -> str:
    """The Markdown of ``docs/refusals.md``: every code with its meaning, article and effect."""
    lines = [
        "# Refusal codes",
        "",
        "Generated from `ledger/refusals.py` by `ledger refusals`; a test keeps the two the same.",
        "A refused line prints as `FILE:LINE: type: field: reason [code, article]`; `--json` commands",
        "print `{\"error\": ..., \"code\": ...}` on stderr. The article here is the one the refusal",
        "rests on in general; a refusal line cites the article of the region's own policy in force.",
        "",
        "| code | meaning | article | effect |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{c}` | {c.meaning} | {c.article or '-'} | {c.effect} |" for c in RefusalCode]
    return "\n".join(lines) + "\n"
