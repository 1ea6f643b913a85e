"""Refusal codes: one enum, every raise uses it, the stored strings never change, the doc is the enum."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from ledger.errors import InputError
from ledger.exchange.messages import MESSAGE_TYPES, BillItem, PrescribedDrug
from ledger.refusals import ABOUT, RefusalCode, refusals_table

ROOT = Path(__file__).resolve().parents[2]

# The strings the ledger gave before the enum: stored in the log and printed, so they stay.
BEFORE_THE_ENUM = [
    "unknown_member", "unknown_institution", "unknown_prescription", "unknown_settlement",
    "unknown_policy_version", "key_reused", "late_upload_outside_window", "cross_region", "not_a_hospital",
    "visit_foreign", "not_a_pharmacy", "rx_foreign", "rx_drug_not_prescribed", "rx_quantity_exceeded",
    "bad_setl_id", "no_policy_in_force", "unknown_region", "family_doctor_not_primary",
    "prescriber_not_hospital", "year_closed", "month_not_over", "no_budget", "category_missing",
    "write_conflict", "bad_known_at", "not_cleared", "baseline_history_missing", "rx_days_over_limit",
    "rx_not_yet_issued", "rx_expired", "rx_drug_bought_elsewhere", "account_use_forbidden",
    "account_beneficiary_refused", "account_use_refused", "month_closed", "month_out_of_order", "december_open",
    "insufficient_balance", "already_retired", "already_suspended", "not_suspended", "already_admitted",
    "not_admitted", "already_credited", "not_enrolled_yet", "member_left", "already_reversed",
    "reversal_before_settlement", "excluded_health_checkup", "excluded_work_injury", "excluded_third_party",
    "excluded_public_health", "hospitalised", "suspended", "institution_not_designated",
    "prescriber_not_designated",
]

MODELS: list[type[BaseModel]] = [*MESSAGE_TYPES.values(), BillItem, PrescribedDrug]
FIELD_NAMES = {name for model in MODELS for name in model.model_fields}
MISSPELT = {"pric_uplmt_am", "psn_n0"}
"""Names in backticks in docs/bad-input.md that are fields (or the misspellings it shows), not codes."""

RAISERS = {"InputError", "PeriodError", "Refusal", "MessageError", "PydanticCustomError", "__init__"}


def _code_arguments(tree: ast.AST) -> list[ast.expr]:
    """Every expression given as a refusal code: ``code=`` of an error, or a Refusal's first argument."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name not in RAISERS:
            continue
        found += [k.value for k in node.keywords if k.arg == "code"]
        if name in ("Refusal", "PydanticCustomError") and node.args:
            found.append(node.args[0])
        if name == "MessageError" and len(node.args) == 4:
            found.append(node.args[3])
    return found


def test_every_code_raised_anywhere_is_a_member_of_the_enum():
    literals, named = [], []
    for path in sorted((ROOT / "ledger").rglob("*.py")):
        for arg in _code_arguments(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(ROOT)}:{arg.lineno}"
            if isinstance(arg, ast.Constant):
                literals.append(where)
            elif (isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name)
                  and arg.value.id == "RefusalCode"):
                named.append(arg.attr)
    assert literals == [], "a refusal code written as a bare string"
    assert len(named) > 60
    assert not [n for n in named if n not in RefusalCode.__members__]


def test_an_error_with_a_code_outside_the_enum_cannot_be_made():
    with pytest.raises(ValueError, match="not_a_code"):
        InputError("x", "reason", code="not_a_code")  # type: ignore[arg-type]


def test_the_strings_stay_what_they_were():
    assert not [code for code in BEFORE_THE_ENUM if code not in {c.value for c in RefusalCode}]
    assert f"{RefusalCode.KEY_REUSED}" == "key_reused"
    assert InputError("x", "r", code=RefusalCode.KEY_REUSED).code == "key_reused"


def test_every_code_has_a_meaning_and_an_effect():
    assert set(ABOUT) == set(RefusalCode)
    assert all(c.meaning and c.effect for c in RefusalCode)


def test_the_articles_name_their_documents():
    assert RefusalCode.INSUFFICIENT_BALANCE.article == "信政办〔2022〕23号 第九条"
    assert RefusalCode.RX_EXPIRED.article == "同医保办发〔2022〕1号 第十条"
    assert RefusalCode.LATE_UPLOAD_OUTSIDE_WINDOW.article == "焦医保〔2024〕32号 一（一）"


def test_docs_refusals_is_the_enum():
    published = (ROOT / "docs" / "refusals.md").read_text(encoding="utf-8")
    assert published == refusals_table(), "regenerate with `ledger refusals > docs/refusals.md`"
    for code in RefusalCode:
        assert f"| `{code}` | {code.meaning} |" in published


def test_docs_bad_input_names_only_codes_of_the_enum():
    text = (ROOT / "docs" / "bad-input.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([a-z]+(?:_[a-z0-9]+)+)`", text)) - FIELD_NAMES - MISSPELT
    assert named, "the table names its codes in backticks"
    assert not [code for code in named if code not in {c.value for c in RefusalCode}]
