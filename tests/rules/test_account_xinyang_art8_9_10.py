"""The personal account (个人账户), POLICY.md §3.

- 信政办〔2022〕23号 第八条: monthly credit, 2 % of the contribution base in service; 60 yuan retired.
- 第九条: what it may pay — the member's own self-pay; the self-pay of spouse, parents, children;
  their resident-insurance contributions or the member's own supplementary insurance.
- 第十条: never public health, fitness, wellness.
- 同医保办发〔2022〕1号 第二十二条: inside a claim the member's part is paid from the account (when
  allowed, up to its balance), the rest in cash; a delivery fee is never paid by insurance
  (医保办发〔2023〕4号 三（一）).
"""

from __future__ import annotations

import pytest

from ledger.errors import InputError
from ledger.rules.account import (
    account_payment_datong_art22,
    check_use_xinyang_art9_10,
    monthly_credit_xinyang_art8,
)
from ledger.rules.facts import IN_SERVICE
from tests.rules import (
    DATONG,
    KAIFENG,
    RETIRED,
    D,
    at_hospital,
    at_pharmacy,
    line,
    purchase,
    reader,
    settle,
    visit,
)

SELF_ARTICLE = "信政办〔2022〕23号 第九条（一）（二）（三）"
FAMILY_ARTICLE = "信政办〔2022〕23号 第九条（二）（三）"
FORBIDDEN_ARTICLE = "信政办〔2022〕23号 第十条"


@pytest.mark.parametrize(
    ("base", "credit"),
    [
        ("6000.00", "120.00"),  # 6000.00 × 2 % = 120.00
        ("4567.89", "91.36"),   # 4567.89 × 2 % = 91.3578 → 91.36
        ("4567.25", "91.35"),   # 4567.25 × 2 % = 91.345 → 91.35 (half up)
        ("0.00", "0.00"),
    ],
)
def test_account_art8_1_in_service_credit_is_two_percent_of_the_base_rounded_to_the_fen(base, credit):
    assert monthly_credit_xinyang_art8(IN_SERVICE, D(base), reader()) == D(credit)


@pytest.mark.parametrize("base", ["6000.00", "12345.67", "0.00"])
def test_account_art8_2_retired_credit_is_a_flat_sixty_yuan(base):
    p = reader()
    assert monthly_credit_xinyang_art8(RETIRED, D(base), p) == D("60.00")
    assert p.take()[0].citation() == "信政办〔2022〕23号 第八条（二）"


def test_account_art8_1_rate_is_cited_to_xinyang():
    p = reader()
    monthly_credit_xinyang_art8(IN_SERVICE, D("6000.00"), p)
    assert p.take()[0].citation() == "信政办〔2022〕23号 第八条（一）"


@pytest.mark.parametrize("purpose", ["medical", "pharmacy", "supplementary_insurance"])
def test_account_art9_permits_the_members_own_uses(purpose):
    """第九条（一）（二）; （三）「本人参加职工大额医疗保险……的个人缴费」."""
    assert check_use_xinyang_art9_10("self", purpose, reader()) == SELF_ARTICLE


@pytest.mark.parametrize("beneficiary", ["spouse", "parent", "child"])
@pytest.mark.parametrize("purpose", ["medical", "pharmacy", "resident_contribution"])
def test_account_art9_permits_family_self_pay_and_resident_contributions(beneficiary, purpose):
    """第九条（二）「配偶、父母、子女……由个人负担的费用」；（三）「参加城乡居民基本医疗保险……的个人缴费」."""
    assert check_use_xinyang_art9_10(beneficiary, purpose, reader()) == FAMILY_ARTICLE


@pytest.mark.parametrize("beneficiary", ["self", "spouse", "parent", "child", "other"])
@pytest.mark.parametrize("purpose", ["fitness", "wellness", "public_health"])
def test_account_art10_forbids_public_health_fitness_and_wellness(beneficiary, purpose):
    """第十条「个人账户不得用于公共卫生费用、体育健身、养生保健消费」, whoever benefits."""
    with pytest.raises(InputError) as refused:
        check_use_xinyang_art9_10(beneficiary, purpose, reader())
    assert refused.value.code == "account_use_forbidden"
    assert refused.value.article == FORBIDDEN_ARTICLE
    assert refused.value.field == "purpose"


def test_account_art9_2_refuses_a_beneficiary_outside_the_family():
    """第九条（二） names spouse, parents and children only."""
    with pytest.raises(InputError) as refused:
        check_use_xinyang_art9_10("other", "medical", reader())
    assert refused.value.code == "account_beneficiary_refused"
    assert refused.value.article == "信政办〔2022〕23号 第九条（二）"
    assert refused.value.field == "beneficiary"


@pytest.mark.parametrize("beneficiary", ["spouse", "parent", "child"])
def test_account_art9_3_supplementary_insurance_is_only_for_the_member(beneficiary):
    """第九条（三）「本人参加职工大额医疗保险」: not the family's."""
    with pytest.raises(InputError) as refused:
        check_use_xinyang_art9_10(beneficiary, "supplementary_insurance", reader())
    assert refused.value.code == "account_use_refused"
    assert refused.value.article == FAMILY_ARTICLE


def test_account_art9_3_resident_contribution_is_only_for_the_family():
    """第九条（三）「配偶、父母、子女参加城乡居民基本医疗保险」: the member is in the employee scheme."""
    with pytest.raises(InputError) as refused:
        check_use_xinyang_art9_10("self", "resident_contribution", reader())
    assert refused.value.code == "account_use_refused"
    assert refused.value.article == SELF_ARTICLE


def test_account_art10_is_borrowed_and_assumed_in_kaifeng():
    with pytest.raises(InputError) as refused:
        check_use_xinyang_art9_10("self", "fitness", reader(KAIFENG))
    assert refused.value.article == "信政办〔2022〕23号 第十条（假设）"


@pytest.mark.parametrize(
    ("psn_part", "delivery", "balance", "allowed", "paid"),
    [
        ("225.00", "0.00", "1000.00", True, "225.00"),  # the whole part
        ("225.00", "0.00", "100.00", True, "100.00"),   # up to the balance
        ("225.00", "0.00", "0.00", True, "0.00"),       # empty account
        ("225.00", "0.00", "1000.00", False, "0.00"),   # the member did not allow it
        ("66.50", "5.00", "1000.00", True, "61.50"),    # never the delivery fee: 66.50 − 5.00
        ("5.00", "5.00", "1000.00", True, "0.00"),      # only a delivery fee left
    ],
)
def test_account_datong_art22_pays_the_members_part_up_to_the_balance(psn_part, delivery, balance, allowed, paid):
    assert account_payment_datong_art22(D(psn_part), D(delivery), D(balance), allowed) == D(paid)


def test_account_datong_art22_in_a_claim_pays_first_then_cash_and_leaves_the_balance():
    """Level 3, 400.00, balance 1000.00: fund 175.00; member 225.00 = 225.00 account + 0.00 cash; balc 775.00."""
    adj = settle(visit(line("400.00"), acct=True), at_hospital(3, balance_before="1000.00"))
    info = adj.setlinfo
    assert (info["psn_part_amt"], info["acct_pay"], info["psn_cash_pay"], info["balc"]) == (
        D("225.00"), D("225.00"), D("0.00"), D("775.00"))
    assert adj.setldetail()[1] == {
        "fund_pay_type": "310200",
        "fund_pay_type_name": "职工基本医疗保险个人账户",
        "inscp_scp_amt": D("400.00"),
        "crt_payb_lmt_amt": None,
        "fund_payamt": D("225.00"),
    }


def test_account_datong_art22_never_goes_negative():
    """Balance 100.00 for a member's part of 225.00: 100.00 from the account, 125.00 cash, balc 0.00."""
    adj = settle(visit(line("400.00"), acct=True), at_hospital(3, balance_before="100.00"))
    info = adj.setlinfo
    assert (info["acct_pay"], info["psn_cash_pay"], info["balc"]) == (D("100.00"), D("125.00"), D("0.00"))


def test_account_datong_art22_unused_without_the_members_consent():
    adj = settle(visit(line("400.00"), acct=False), at_hospital(3, balance_before="1000.00"))
    info = adj.setlinfo
    assert (info["acct_pay"], info["psn_cash_pay"], info["balc"]) == (D("0.00"), D("225.00"), D("1000.00"))


def test_account_national_3_1_never_pays_a_delivery_fee():
    """医保办发〔2023〕4号 三（一）「配送费用不纳入医保支付范围」; Xinyang pharmacy, as level 2.

    total 100.00 + 5.00 delivery = 105.00; fully self-paid 5.00; in scope 100.00
    fund (100.00 − 30.00) × 55 % = 38.50; member 105.00 − 38.50 = 66.50
    account 66.50 − 5.00 = 61.50; cash 5.00; balc 1000.00 − 61.50 = 938.50
    """
    adj = settle(purchase(line("100.00"), acct=True, delivery_fee="5.00"), at_pharmacy(balance_before="1000.00"))
    info = adj.setlinfo
    assert info["medfee_sumamt"] == D("105.00")
    assert info["fulamt_ownpay_amt"] == D("5.00")
    assert info["inscp_scp_amt"] == D("100.00")
    assert info["hifp_pay"] == D("38.50")
    assert info["psn_part_amt"] == D("66.50")
    assert (info["acct_pay"], info["psn_cash_pay"], info["balc"]) == (D("61.50"), D("5.00"), D("938.50"))
    assert "医保办发〔2023〕4号 三（一）" in adj.setl_proc_info()


def test_account_datong_art22_retired_shanxi_purchase_paid_from_the_account():
    """Datong, retired, 200.00: fund (200.00 − 30.00) × 65 % = 110.50; member 89.50 from a 50.00 balance.

    account 50.00, cash 39.50, balc 0.00
    """
    adj = settle(purchase(line("200.00"), acct=True),
                 at_pharmacy(psn_type=RETIRED, prescriber_level=1, balance_before="50.00"), DATONG)
    info = adj.setlinfo
    assert (info["psn_part_amt"], info["acct_pay"], info["psn_cash_pay"], info["balc"]) == (
        D("89.50"), D("50.00"), D("39.50"), D("0.00"))


def test_account_art10_does_not_pay_a_claim_excluded_as_a_public_health_cost():
    """第十条「个人账户不得用于公共卫生费用」: the member pays a public-health bill in cash.

    refused (焦医保〔2024〕32号 三): fund 0.00, member 400.00; account 0.00, cash 400.00, balc 1000.00
    """
    adj = settle(visit(line("400.00"), acct=True, exclusion="public_health"), at_hospital(3, balance_before="1000.00"))
    info = adj.setlinfo
    assert adj.refusal_code == "excluded_public_health"
    assert (info["acct_pay"], info["psn_cash_pay"], info["balc"]) == (D("0.00"), D("400.00"), D("1000.00"))
