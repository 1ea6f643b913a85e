"""Policy cases in the OpenFisca style: one YAML file per source document, one test per case.

Each file ``<document id>.yaml`` (the id of a file in ``ledger/policy/documents/``) is a list of
cases::

    - name: a sentence saying what the case shows
      article: the article(s) of the document it rests on
      region: "411500"            # admdvs
      service_date: 2024-03-20
      claim:                       # kind visit|purchase, med_type, acct_used_flag, delivery_fee,
        kind: visit                # exclusion, and items with the platform's bill-line fields
        items:
          - {feedetl_sn: "1", med_list_codg: X1, cnt: "1", pric: "400.00", chrgitm_lv: "01"}
      context:                     # fields of ledger.rules.facts.Context; amounts as strings
        psn_type: "11"
        institution_level: 3
      output:                      # setlinfo fields and intermediate values (see OUTPUTS)
        act_pay_dedc: "50.00"
        pooled_share: "175.00"
        hifp_pay: "175.00"

``cites`` (optional) lists citations the explanation (``setl_proc_info``) must show. Or,
instead of ``output``, ``error: PolicyNotInForceError`` with ``error_match``: a text the
message must contain. Defaults: a visit is at a designated hospital; a purchase is at a
designated pharmacy on a prescription from a designated institution.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from ledger import errors
from ledger.exchange.messages import BillItem
from ledger.policy.files import default_library
from ledger.rules.adjudication import SETLINFO_FIELDS, Adjudication, adjudicate
from ledger.rules.facts import PURCHASE, Claim, Context
from ledger.rules.lines import Line

CASE_DIR = Path(__file__).parent
CASE_FILES = sorted(CASE_DIR.glob("*.yaml"))
AMOUNTS = ("cap_used_before", "balance_before", "deductible_paid_before")


def _pooled_share(adj: Adjudication) -> Decimal:
    return next(s.amounts["share"] for s in adj.trace if s.rule == "ratio")


def _setlinfo(name: str) -> Callable[[Adjudication], Any]:
    return lambda adj: adj.setlinfo[name]


OUTPUTS: dict[str, Callable[[Adjudication], Any]] = {
    **{name: _setlinfo(name) for name in SETLINFO_FIELDS},
    "deductible_standard": lambda adj: adj.deductible_standard,
    "deductible_shared": lambda adj: adj.deductible_shared,
    "annual_cap": lambda adj: adj.annual_cap,
    "crt_payb_lmt_amt": lambda adj: adj.cap_remaining,
    "pooled_share": _pooled_share,
    "refusal_code": lambda adj: adj.refusal_code,
    "refusal_article": lambda adj: adj.refusal_article,
}
"""What a case may assert: the settlement fields and the values between the steps."""


def _load(path: Path) -> list[dict[str, Any]]:
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(cases, list) and cases, f"{path.name}: a case file is a non-empty list of cases"
    return cases


def _all_cases() -> list[Any]:
    params = []
    for path in CASE_FILES:
        for i, case in enumerate(_load(path)):
            params.append(pytest.param(path.stem, case, id=f"{path.stem}-{i:02d}"))
    return params


def _claim(raw: dict[str, Any], day: date) -> Claim:
    items = [BillItem.model_validate(item) for item in raw["items"]]
    return Claim(
        kind=raw.get("kind", "visit"),
        date=day,
        med_type=raw.get("med_type", "11"),
        acct_used_flag=raw.get("acct_used_flag", False),
        lines=tuple(Line(i.feedetl_sn, i.med_list_codg, i.name, i.cnt, i.pric, i.pric_uplmt_amt, i.chrgitm_lv,
                         i.exclusion) for i in items),
        delivery_fee=Decimal(raw.get("delivery_fee", "0.00")),
        exclusion=raw.get("exclusion"),
    )


def _context(raw: dict[str, Any], claim: Claim) -> Context:
    fields: dict[str, Any] = {name: Decimal(raw[name]) if name in AMOUNTS else raw[name] for name in raw}
    if claim.kind == PURCHASE:
        fields.setdefault("institution_kind", "pharmacy")
        fields.setdefault("institution_level", None)
        fields.setdefault("prescriber_designated", True)
    else:
        fields.setdefault("institution_kind", "hospital")
    fields.setdefault("institution_designated", True)
    fields.setdefault("psn_type", "11")
    return Context(**fields)


def _expected(value: Any) -> Any:
    if isinstance(value, str) and value and (value[0].isdigit() or value[0] == "-"):
        return Decimal(value)
    return value


def test_there_is_a_case_file_per_source_document_the_rules_use():
    names = {path.stem for path in CASE_FILES}
    assert {"xinyang-2022-23", "datong-2022-1", "shanxi-2023-2", "kaifeng-2023-29", "jiaozuo-2024-32",
            "national-2023-4"} <= names
    assert names <= set(default_library().documents), "each case file is named for a policy document"


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_each_case_file_is_well_formed(path):
    for case in _load(path):
        assert set(case) <= {"name", "article", "region", "service_date", "claim", "context", "output", "error",
                             "error_match", "cites"}, case.get("name")
        assert case["name"] and case["article"], case
        assert isinstance(case["service_date"], date), case["name"]
        assert ("output" in case) != ("error" in case), case["name"]
        assert set(case.get("output", {})) <= set(OUTPUTS), case["name"]


@pytest.mark.parametrize(("document", "case"), _all_cases())
def test_policy_case(document, case):
    day = case["service_date"]
    claim = _claim(case["claim"], day)
    ctx = _context(case.get("context", {}), claim)
    if "error" in case:
        error = getattr(errors, case["error"])
        with pytest.raises(error, match=case.get("error_match")):
            adjudicate(claim, ctx, default_library().policy_for(case["region"], day))
        return
    adj = adjudicate(claim, ctx, default_library().policy_for(case["region"], day), explain=True)
    got = {name: OUTPUTS[name](adj) for name in case["output"]}
    want = {name: _expected(value) for name, value in case["output"].items()}
    assert got == want, f"{document}: {case['name']} ({case['article']})"
    explanation = adj.setl_proc_info()
    for citation in case.get("cites", ()):
        assert citation in explanation, f"{citation} not cited in:\n{explanation}"
    # Whatever the case asserts, the settlement adds up.
    info = adj.setlinfo
    assert info["medfee_sumamt"] == (info["fulamt_ownpay_amt"] + info["overlmt_selfpay"] + info["preselfpay_amt"]
                                     + info["inscp_scp_amt"])
    assert info["psn_part_amt"] == info["medfee_sumamt"] - info["fund_pay_sumamt"] == info["acct_pay"] + info[
        "psn_cash_pay"]
