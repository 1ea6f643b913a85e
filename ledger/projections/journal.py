"""The double-entry journal (同医保办发〔2022〕1号 第二十七条): every money movement, balanced.

「经办机构财务部门在收到门诊统筹支付单据后，统筹基金支付部分，借记统筹基金待遇支出—门诊
统筹，贷记统筹基金支出户存款；个人账户支付部分，借记个人账户待遇支出—普通门诊支出（门诊
统筹定点药店机构医药费支出），贷记个人账户支出户存款。」

Article 27 books the pooling part when the fund pays the institution. Here a settlement
books the fund's part as owed to the institution (应付定点医药机构款), and the monthly
prepayment and the year-end clearing pay that debt from 统筹基金支出户存款, so the article's
pair of accounts appears once per yuan paid. The personal-account part is paid at the
settlement and booked exactly as the article says. The other accounts (credits into the
accounts, deposits, transfers out, inheritance) are named after the same ledger of funds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Column, Integer, String, Table, func, select

from ledger.projections.base import (
    Record,
    View,
    date_column,
    fen,
    insert_many,
    metadata,
    money_column,
    position_column,
    yuan,
)
from ledger.rules.facts import REIMBURSED

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy import Connection

POOLING_EXPENSE = "统筹基金待遇支出—门诊统筹"
POOLING_BANK = "统筹基金支出户存款"
PAYABLE = "应付定点医药机构款—门诊统筹"
DEPOSIT = "服务质量保证金"
ACCOUNT_EXPENSE_CLINIC = "个人账户待遇支出—普通门诊支出"
ACCOUNT_EXPENSE_PHARMACY = "个人账户待遇支出—门诊统筹定点药店机构医药费支出"
ACCOUNT_EXPENSE_FAMILY = "个人账户待遇支出—家庭共济及缴费支出"
ACCOUNT_EXPENSE_TRANSFER = "个人账户待遇支出—转移支出"
ACCOUNT_EXPENSE_INHERITANCE = "个人账户待遇支出—继承支出"
ACCOUNT_BANK = "个人账户支出户存款"
CONTRIBUTION_INCOME = "基本医疗保险费收入—个人缴费划入个人账户"
POOLING_TO_ACCOUNTS = "统筹基金支出—划入退休人员个人账户"
ACCOUNT_INCOME_FROM_POOLING = "个人账户收入—统筹基金划入"

journal_entries = Table(
    "journal_entries",
    metadata,
    position_column(primary_key=True),
    Column("entry", Integer, primary_key=True),
    date_column("day"),
    Column("memo", String(120), nullable=False),
    Column("debit", String(60), nullable=False),
    Column("credit", String(60), nullable=False),
    Column("sub", String(64), nullable=False),
    money_column("amount"),
    sqlite_with_rowid=False,
)
"""One row per entry: ``amount`` debited to one account and credited to another, so every entry balances."""

Entry = tuple[str, str, str, str, int]
"""(debit account, credit account, sub-ledger key, memo, amount in fen)."""


def _settlement_entries(p: dict[str, Any], sign: int, amounts: dict[str, Any], memo: str) -> list[Entry]:
    if p["kind"] == REIMBURSED:  # the fund's share is paid to the member who paid the bill in full
        return [(POOLING_EXPENSE, POOLING_BANK, p["psn_no"], memo, sign * fen(amounts["hifp_pay"]))]
    expense = ACCOUNT_EXPENSE_PHARMACY if p["kind"] == "purchase" else ACCOUNT_EXPENSE_CLINIC
    return [
        (POOLING_EXPENSE, PAYABLE, p["fixmedins_code"], memo, sign * fen(amounts["hifp_pay"])),
        (expense, ACCOUNT_BANK, p["fixmedins_code"], memo, sign * fen(amounts["acct_pay"])),
    ]


def entries_for(topic: str, p: dict[str, Any]) -> list[Entry]:
    """The balanced entries an event books (an entry with a negative amount swaps its sides)."""
    kind = topic.removeprefix("yibao:")
    if kind == "Settlement.Settled":
        return _settlement_entries(p, 1, p["result"], f"结算 {p['medins_setl_id']}")
    if kind == "Settlement.Reversed":
        return _settlement_entries(p, -1, p["result"], f"冲销 {p['medins_setl_id']}")
    if kind == "Settlement.Adjusted":
        return _settlement_entries(p, 1, p["delta"], f"调整 {p['medins_setl_id']}：{p['reason']}")
    if kind in ("Member.AccountCredited", "Member.CreditAdjusted"):
        memo = f"个人账户划入 {p['month']}" + ("（调整）" if kind == "Member.CreditAdjusted" else "")
        amount = fen(p["amount"])
        if p["psn_type"] == "12":
            return [(ACCOUNT_BANK, POOLING_BANK, "", memo, amount),
                    (POOLING_TO_ACCOUNTS, ACCOUNT_INCOME_FROM_POOLING, "", memo, amount)]
        return [(ACCOUNT_BANK, CONTRIBUTION_INCOME, "", memo, amount)]
    if kind == "Member.AccountUsed":
        return [(ACCOUNT_EXPENSE_FAMILY, ACCOUNT_BANK, p["reference"], f"个人账户支付 {p['purpose']}",
                 fen(p["amount"]))]
    if kind == "Member.TransferredOut":
        return [(ACCOUNT_EXPENSE_TRANSFER, ACCOUNT_BANK, "", "调离转出个人账户结余", fen(p["paid_out"]))]
    if kind == "Member.BalancePaidOut":
        account = ACCOUNT_EXPENSE_TRANSFER if p["how"] == "transferred_out" else ACCOUNT_EXPENSE_INHERITANCE
        return [(account, ACCOUNT_BANK, "", f"离开后到账的个人账户资金：{p['to']}", fen(p["amount"]))]
    if kind == "Member.Deceased":
        return [(ACCOUNT_EXPENSE_INHERITANCE, ACCOUNT_BANK, "", f"个人账户继承：{p['heir']}",
                 fen(p["inherited"]))]
    if kind in ("Region.MonthClosed", "Region.MonthPrepaid"):
        out: list[Entry] = []
        for row in p["payments"]:
            memo = f"月度预付 {p['month']}"
            out.append((PAYABLE, POOLING_BANK, row["fixmedins_code"], memo, fen(row["paid"])))
            out.append((PAYABLE, DEPOSIT, row["fixmedins_code"], memo, fen(row["withheld"])))
        return out
    if kind == "Region.YearClosed":
        out = []
        for row in p["rows"]:
            memo = f"年终清算 {p['year']}"
            code = row["fixmedins_code"]
            out.append((POOLING_EXPENSE, PAYABLE, code, memo, fen(row["final_amount"]) - fen(row["actual"])))
            out.append((PAYABLE, POOLING_BANK, code, memo, fen(row["due"])))
            out.extend(_deposit_entries(code, row["deposit_withheld"], row["deposit_returned"], memo))
        return out
    if kind == "Region.DepositReturned":
        return _deposit_entries(p["fixmedins_code"], p["withheld"], p["returned"], f"保证金返还 {p['year']}")
    return []


def _deposit_entries(code: str, withheld: Any, returned: Any, memo: str) -> list[Entry]:
    """Returned deposit goes to the institution; the rest is kept by the fund."""
    if returned is None:
        return []
    back = fen(returned)
    return [(DEPOSIT, POOLING_BANK, code, memo + " 返还", back),
            (DEPOSIT, POOLING_EXPENSE, code, memo + " 扣留", fen(withheld) - back)]


class JournalView(View):
    """Journal entries, one row each (a debit account, a credit account, an amount)."""

    name = "journal"
    topics = (
        "yibao:Settlement.Settled", "yibao:Settlement.Reversed", "yibao:Settlement.Adjusted",
        "yibao:Member.AccountCredited", "yibao:Member.CreditAdjusted", "yibao:Member.AccountUsed",
        "yibao:Member.TransferredOut", "yibao:Member.BalancePaidOut", "yibao:Member.Deceased",
        "yibao:Region.MonthClosed", "yibao:Region.MonthPrepaid", "yibao:Region.YearClosed",
        "yibao:Region.DepositReturned",
    )
    tables = (journal_entries,)
    fields: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "yibao:Settlement.Settled": ("kind", "psn_no", "fixmedins_code", "medins_setl_id", "result.hifp_pay",
                                     "result.acct_pay"),
    }

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []

    def begin(self, conn: Connection) -> None:  # noqa: D102
        self._rows = []

    def process(self, conn: Connection, record: Record) -> None:  # noqa: D102
        number = 0
        for debit, credit, sub, memo, amount in entries_for(record.topic, record.payload):
            if not amount:
                continue
            if amount < 0:
                debit, credit, amount = credit, debit, -amount
            number += 1
            self._rows.append({"position": record.position, "entry": number, "day": record.day, "memo": memo,
                               "debit": debit, "credit": credit, "sub": sub, "amount": amount})

    def flush(self, conn: Connection) -> None:  # noqa: D102
        insert_many(conn, journal_entries, self._rows)
        self._rows = []


def trial_balance(conn: Connection) -> dict[str, Any]:
    """Debits and credits per account, and the totals (which must be equal)."""
    c = journal_entries.c
    return trial_balance_of(dict(conn.execute(select(c.debit, func.sum(c.amount)).group_by(c.debit)).tuples().all()),
                            dict(conn.execute(select(c.credit, func.sum(c.amount)).group_by(c.credit)).tuples().all()))


def trial_balance_of(debits: Mapping[str, int], credits: Mapping[str, int]) -> dict[str, Any]:
    """The trial balance of the journal's debits and credits summed per account (fen)."""
    accounts = []
    for name in sorted(set(debits) | set(credits)):
        dr, cr = int(debits.get(name) or 0), int(credits.get(name) or 0)
        accounts.append({"account": name, "debit": yuan(dr), "credit": yuan(cr), "balance": yuan(dr - cr)})
    debit = sum(int(v) for v in debits.values())
    credit = sum(int(v) for v in credits.values())
    return {"accounts": accounts, "debit": yuan(debit), "credit": yuan(credit), "difference": yuan(debit - credit),
            "balanced": debit == credit}


def balances_by_sub(conn: Connection, account: str) -> dict[str, Decimal]:
    """One account's balance (debit − credit) per sub-ledger key (an institution, a reference)."""
    c = journal_entries.c
    out: dict[str, int] = {}
    for side, sign in ((c.debit, 1), (c.credit, -1)):
        for sub, amount in conn.execute(select(c.sub, func.sum(c.amount)).where(side == account).group_by(c.sub)):
            out[sub] = out.get(sub, 0) + sign * int(amount)
    return {sub: yuan(value) for sub, value in sorted(out.items())}
