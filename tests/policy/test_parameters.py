"""The policy loader (ledger/parameters.py): dated, cited parameters resolved per region and date.

Two kinds of test: the shipped library (ledger/policy/documents/*.yaml and regions.yaml), whose
effective dates come from the seeds, and small libraries written under ``tmp_path`` to pin the
loader's own behaviour (borrowing, ``values_from``, ``null``, hashing, refusals of bad files).
"""

from __future__ import annotations

import json
import shutil
import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.errors import PolicyError, PolicyNotInForceError
from ledger.policy.files import POLICY_DIR, default_library, load_library, load_policy_file
from ledger.policy.parameters import Policy, PolicyFile
from ledger.rules.adjudication import adjudicate
from ledger.rules.facts import Claim, Context
from ledger.rules.lines import Line

XINYANG, KAIFENG, JIAOZUO, DATONG = "411500", "410200", "410800", "140200"
ALL_REGIONS = (XINYANG, KAIFENG, JIAOZUO, DATONG)


# --------------------------------------------------------------------------------------------
# A small library on disk


BASE = """\
document:
  id: base
  issuer: 测试市医疗保障局
  number: 测试〔2024〕1号
  title: 测试文件
  in_force: 2024-01-01
parameters:
  deductible_level3:
    description: 三级定点医疗机构起付标准
    unit: CNY
    values:
      2024-01-01: {value: "50.00", article: 第一条}
      2024-07-01: {value: "60.00", article: 第一条（修订）}
  ratio_level3:
    description: 三级定点医疗机构支付比例
    unit: /1
    note: own note of the parameter
    values:
      2024-01-01: {value: "0.50", article: 第二条}
  pilot:
    description: 试点，2024-10-01 起停止
    unit: flag
    values:
      2024-01-01: {value: true, article: 第三条}
      2024-10-01: null
"""

LENDER = """\
document:
  id: lender
  issuer: 出借市医疗保障局
  number: 借〔2023〕9号
  title: 出借文件
  in_force: 2023-05-01
parameters:
  annual_cap_in_service:
    description: 年度最高支付限额
    unit: CNY
    values:
      2023-05-01: {value: "1500.00", article: 第五条（三）}
  rx_days_normal:
    description: 每次开药量
    unit: days
    values:
      2023-05-01: {value: 7, article: 二（二）}
"""

REGIONS = """\
"100000":
  name: 甲市
  sources:
    - document: base
    - document: lender
      borrowed: [annual_cap_in_service]
      note: 甲市's own cap is not among the seeds; 借〔2023〕9号 stands in.
"200000":
  name: 乙市
  sources:
    - document: base
    - document: lender
      borrowed: [annual_cap_in_service]
      note: moved to 2022.
      values_from: 2022-01-01
"""


def write_library(root: Path, documents: dict[str, str] | None = None, regions: str = REGIONS) -> Path:
    """A library directory: ``documents/<id>.yaml`` and ``regions.yaml``."""
    (root / "documents").mkdir(parents=True, exist_ok=True)
    for name, text in (documents or {"base": BASE, "lender": LENDER}).items():
        (root / "documents" / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    (root / "regions.yaml").write_text(regions, encoding="utf-8")
    return root


@pytest.fixture
def library(tmp_path):
    return load_library(write_library(tmp_path / "lib"))


def test_loader_resolves_each_value_from_its_date_day_before_and_day_of(library):
    assert library.policy_for("100000", date(2024, 6, 30)).get("deductible_level3").value == Decimal("50.00")
    revised = library.policy_for("100000", date(2024, 7, 1)).get("deductible_level3")
    assert (revised.value, revised.since, revised.article) == (Decimal("60.00"), date(2024, 7, 1), "第一条（修订）")


def test_loader_refuses_a_date_before_any_document(library):
    # The borrowed cap is the earliest value of region 100000: 2023-05-01.
    assert library.policy_for("100000", date(2023, 5, 1)).get("annual_cap_in_service").value == Decimal("1500.00")
    with pytest.raises(PolicyNotInForceError, match="100000 on 2023-04-30"):
        library.policy_for("100000", date(2023, 4, 30))


def test_loader_refuses_an_unknown_region(library):
    with pytest.raises(PolicyNotInForceError, match="no policy profile for region 999999"):
        library.policy_for("999999", date(2024, 3, 20))


def test_loader_a_parameter_not_yet_in_force_is_absent_and_get_raises(library):
    early = library.policy_for("100000", date(2023, 12, 31))
    assert not early.has("deductible_level3")
    with pytest.raises(PolicyNotInForceError, match="deductible_level3"):
        early.get("deductible_level3")


def test_loader_null_ends_a_parameter(library):
    assert library.policy_for("100000", date(2024, 9, 30)).get("pilot").value is True
    assert not library.policy_for("100000", date(2024, 10, 1)).has("pilot")


def test_loader_lends_only_the_borrowed_parameters_marked_assumed_with_the_regions_note(library):
    policy = library.policy_for("100000", date(2024, 3, 20))
    cap = policy.get("annual_cap_in_service")
    assert cap.assumed is True
    assert cap.note == "甲市's own cap is not among the seeds; 借〔2023〕9号 stands in."
    assert cap.document == "借〔2023〕9号"
    assert cap.citation() == "借〔2023〕9号 第五条（三）（假设）"
    assert not policy.has("rx_days_normal")  # not borrowed


def test_loader_own_values_are_not_assumed_and_keep_their_own_note(library):
    ratio = library.policy_for("100000", date(2024, 3, 20)).get("ratio_level3")
    assert (ratio.assumed, ratio.note) == (False, "own note of the parameter")
    assert ratio.citation() == "测试〔2024〕1号 第二条"


def test_loader_values_from_moves_a_borrowed_values_first_date(library):
    moved = library.policy_for("200000", date(2022, 1, 1)).get("annual_cap_in_service")
    assert moved.since == date(2022, 1, 1)
    assert moved.note == "moved to 2022."
    with pytest.raises(PolicyNotInForceError):
        library.policy_for("200000", date(2021, 12, 31))
    # The same document, read by region 100000 without values_from, starts on its own date.
    assert library.policy_for("100000", date(2024, 3, 20)).get("annual_cap_in_service").since == date(2023, 5, 1)


def test_loader_an_assumed_document_marks_all_its_values_assumed(tmp_path):
    assumed = BASE.replace("  in_force: 2024-01-01\n", "  in_force: 2024-01-01\n  assumed: true\n")
    library = load_library(write_library(tmp_path, {"base": assumed, "lender": LENDER}))
    policy = library.policy_for("100000", date(2024, 3, 20))
    assert policy.get("ratio_level3").assumed
    assert policy.get("ratio_level3").citation() == "测试〔2024〕1号 第二条（假设）"


def test_content_hash_is_stable_across_loads(tmp_path):
    root = write_library(tmp_path)
    first = load_library(root).policy_for("100000", date(2024, 3, 20))
    second = load_library(root).policy_for("100000", date(2024, 3, 20))
    assert first.version == second.version
    assert len(first.version) == 32
    assert int(first.version, 16) >= 0


def test_content_hash_is_the_same_between_two_dates_with_no_change(library):
    assert (library.policy_for("100000", date(2024, 2, 1)).version
            == library.policy_for("100000", date(2024, 6, 30)).version)
    assert (library.policy_for("100000", date(2024, 6, 30)).version
            != library.policy_for("100000", date(2024, 7, 1)).version)


def test_content_hash_changes_when_a_value_changes(tmp_path):
    before = load_library(write_library(tmp_path / "a")).policy_for("100000", date(2024, 3, 20))
    changed = BASE.replace('{value: "0.50", article: 第二条}', '{value: "0.55", article: 第二条}')
    after = load_library(write_library(tmp_path / "b", {"base": changed, "lender": LENDER})).policy_for(
        "100000", date(2024, 3, 20))
    assert after.get("ratio_level3").value == Decimal("0.55")
    assert after.version != before.version


def test_content_hash_changes_when_an_article_changes(tmp_path):
    before = load_library(write_library(tmp_path / "a")).policy_for("100000", date(2024, 3, 20))
    changed = BASE.replace("article: 第二条}", "article: 第二条（一）}")
    after = load_library(write_library(tmp_path / "b", {"base": changed, "lender": LENDER})).policy_for(
        "100000", date(2024, 3, 20))
    assert after.version != before.version


def test_content_hash_ignores_a_reworded_description(tmp_path):
    """The version is the content a settlement rests on: values, dates, citations; not prose."""
    before = load_library(write_library(tmp_path / "a")).policy_for("100000", date(2024, 3, 20))
    reworded = BASE.replace("三级定点医疗机构支付比例", "在三级定点医疗机构就医的支付比例")
    after = load_library(write_library(tmp_path / "b", {"base": reworded, "lender": LENDER})).policy_for(
        "100000", date(2024, 3, 20))
    assert after.version == before.version


def test_content_hash_differs_between_regions_with_the_same_values(library):
    assert (library.policy_for("100000", date(2024, 3, 20)).version
            != library.policy_for("200000", date(2024, 3, 20)).version)


# --------------------------------------------------------------------------------------------
# Malformed files are refused, naming the file


def _param_file(tmp_path: Path, parameter: str, *, doc_id: str = "bad") -> Path:
    text = textwrap.dedent("""\
        document:
          id: {doc_id}
          issuer: 测试
          number: 测试〔2024〕2号
          title: 测试
        parameters:
        {parameter}
        """).format(doc_id=doc_id, parameter=textwrap.indent(textwrap.dedent(parameter), "  "))
    path = tmp_path / f"{doc_id}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """\
deductible_level2:
  description: 二级起付标准
  unit: CNY
  values:
    2024-01-01: {value: "30.00", article: 第五条（一）}
"""


def test_a_well_formed_file_loads_with_exact_values(tmp_path):
    loaded = load_policy_file(_param_file(tmp_path, GOOD))
    assert isinstance(loaded, PolicyFile)
    [(day, dated)] = loaded.parameters["deductible_level2"].values.items()
    assert dated is not None
    assert (day, dated.value, dated.article) == (date(2024, 1, 1), Decimal("30.00"), "第五条（一）")


@pytest.mark.parametrize(
    ("parameter", "complaint"),
    [
        pytest.param(GOOD.replace('"30.00"', "30.00"), "quoted decimal string", id="float-amount"),
        pytest.param(GOOD.replace("unit: CNY", "unit: /1").replace('"30.00"', "0.55"), "quoted decimal string",
                     id="float-rate"),
        pytest.param(GOOD.replace("unit: CNY", "unit: yuan"), "unit", id="unknown-unit"),
        pytest.param(GOOD.replace(", article: 第五条（一）", ""), "article", id="missing-article"),
        pytest.param(GOOD.replace("article: 第五条（一）", 'article: ""'), "article", id="empty-article"),
        pytest.param(GOOD.replace('"30.00"', '"30.005"'), "number of fen", id="amount-below-the-fen"),
        pytest.param(GOOD.replace('"30.00"', '"-30.00"'), "non-negative", id="negative-amount"),
        pytest.param(GOOD.replace("unit: CNY", "unit: /1").replace('"30.00"', '"2.5"'), "between 0 and 2",
                     id="rate-out-of-range"),
        pytest.param(GOOD.replace("unit: CNY", "unit: days").replace('"30.00"', '"7"'), "whole", id="days-as-string"),
        pytest.param(GOOD + "  surprise: 1\n", "surprise", id="unknown-field"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_file(tmp_path, parameter, complaint):
    path = _param_file(tmp_path, parameter)
    with pytest.raises(PolicyError) as refused:
        load_policy_file(path)
    assert str(path) in str(refused.value)
    assert complaint in str(refused.value)


def test_a_choice_outside_its_choices_is_refused(tmp_path):
    parameter = """\
    pharmacy_scheme:
      description: 药店
      unit: choice
      choices: [as_level2, as_prescriber]
      values:
        2024-01-01: {value: as_someone_else, article: 第十三条}
    """
    with pytest.raises(PolicyError, match="as_someone_else"):
        load_policy_file(_param_file(tmp_path, parameter))


def test_brackets_must_run_from_highest_to_lowest(tmp_path):
    parameter = """\
    scale:
      description: 返还比例
      unit: brackets
      values:
        2024-01-01:
          value: [{from: "0", value: "0.00"}, {from: "90", value: "1.00"}]
          article: 三（二）
    """
    with pytest.raises(PolicyError, match="highest to lowest"):
        load_policy_file(_param_file(tmp_path, parameter))


def test_a_file_that_is_not_yaml_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("document: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError) as refused:
        load_policy_file(path)
    assert str(path) in str(refused.value)


def test_library_refuses_a_malformed_document_naming_it(tmp_path):
    bad = BASE.replace('{value: "0.50", article: 第二条}', "{value: 0.5, article: 第二条}")
    root = write_library(tmp_path, {"base": bad, "lender": LENDER})
    with pytest.raises(PolicyError) as refused:
        load_library(root)
    assert str(root / "documents" / "base.yaml") in str(refused.value)


def test_library_refuses_a_document_whose_id_is_not_its_file_name(tmp_path):
    misnamed = BASE.replace("id: base", "id: elsewhere")
    root = write_library(tmp_path, {"base": BASE, "lender": LENDER, "other-name": misnamed})
    with pytest.raises(PolicyError, match=r"other-name\.yaml: document id elsewhere must match the file name"):
        load_library(root)


def test_library_refuses_a_region_reading_an_unknown_document(tmp_path):
    regions = REGIONS + '"300000":\n  name: 丙市\n  sources:\n    - document: nowhere\n'
    with pytest.raises(PolicyError, match="region 300000 reads unknown document nowhere"):
        load_library(write_library(tmp_path, regions=regions))


def test_library_refuses_borrowing_a_parameter_the_document_lacks(tmp_path):
    regions = REGIONS.replace("borrowed: [annual_cap_in_service]\n      note: moved",
                              "borrowed: [annual_cap_retired]\n      note: moved")
    with pytest.raises(PolicyError, match="region 200000 borrows annual_cap_retired, which lender lacks"):
        load_library(write_library(tmp_path, regions=regions))


def test_library_refuses_an_empty_borrowed_list_naming_regions_yaml(tmp_path):
    regions = REGIONS.replace("borrowed: [annual_cap_in_service]\n      note: moved", "borrowed: []\n      note: moved")
    root = write_library(tmp_path, regions=regions)
    with pytest.raises(PolicyError) as refused:
        load_library(root)
    assert str(root / "regions.yaml") in str(refused.value)
    assert "must list the parameters" in str(refused.value)


# --------------------------------------------------------------------------------------------
# The shipped library


@pytest.mark.parametrize(
    ("admdvs", "day", "name", "value", "since", "document"),
    [
        (XINYANG, date(2022, 7, 1), "deductible_level3", Decimal("50.00"), date(2022, 7, 1), "信政办〔2022〕23号"),
        (XINYANG, date(2022, 7, 1), "pharmacy_scheme", "as_level2", date(2022, 7, 1), "信政办〔2022〕23号"),
        (KAIFENG, date(2023, 11, 2), "pharmacy_scheme", "as_prescriber", date(2023, 11, 2), "汴医保〔2023〕29号"),
        (KAIFENG, date(2023, 11, 2), "payment_scheme", "kaifeng_global_budget", date(2023, 11, 2),
         "汴医保〔2023〕29号"),
        (KAIFENG, date(2023, 11, 2), "delivery_fee_excluded", True, date(2023, 11, 2), "汴医保〔2023〕29号"),
        (JIAOZUO, date(2024, 8, 1), "payment_scheme", "jiaozuo_conditional_ffs", date(2024, 8, 1),
         "焦医保〔2024〕32号"),
        (JIAOZUO, date(2024, 8, 1), "rx_days_normal", 7, date(2024, 8, 1), "焦医保〔2024〕32号"),
        (DATONG, date(2023, 1, 1), "rx_validity_days", 7, date(2023, 1, 1), "同医保办发〔2022〕1号"),
        (DATONG, date(2023, 2, 20), "pharmacy_scheme", "primary_combined", date(2023, 2, 20), "晋医保办发〔2023〕2号"),
        (DATONG, date(2023, 2, 20), "pharmacy_deductible", Decimal("30.00"), date(2023, 2, 20),
         "晋医保办发〔2023〕2号"),
        (DATONG, date(2023, 2, 15), "rx_days_long_term", 84, date(2023, 2, 15), "医保办发〔2023〕4号"),
    ],
)
def test_each_region_resolves_on_and_after_its_documents(admdvs, day, name, value, since, document):
    lib = default_library()
    for later in (day, date(2024, 12, 31)):
        cited = lib.policy_for(admdvs, later).get(name)
        assert (cited.value, cited.since, cited.document) == (value, since, document)


@pytest.mark.parametrize("admdvs", ALL_REGIONS)
def test_no_region_resolves_before_its_first_document(admdvs):
    """The earliest policy of every shipped region is 2022-07-01 (信政办〔2022〕23号 and the assumptions)."""
    lib = default_library()
    lib.policy_for(admdvs, date(2022, 7, 1))
    with pytest.raises(PolicyNotInForceError, match=f"{admdvs} on 2022-06-30"):
        lib.policy_for(admdvs, date(2022, 6, 30))


@pytest.mark.parametrize(
    ("admdvs", "name", "day_before", "day_of"),
    [
        (KAIFENG, "pharmacy_scheme", date(2023, 11, 1), date(2023, 11, 2)),
        (JIAOZUO, "payment_scheme", date(2024, 7, 31), date(2024, 8, 1)),
        (DATONG, "pharmacy_scheme", date(2023, 2, 19), date(2023, 2, 20)),
        (DATONG, "class_b_preselfpay", date(2022, 12, 31), date(2023, 1, 1)),
    ],
)
def test_a_parameter_not_yet_in_force_is_absent_the_day_before(admdvs, name, day_before, day_of):
    lib = default_library()
    before = lib.policy_for(admdvs, day_before)
    assert not before.has(name)
    with pytest.raises(PolicyNotInForceError, match=f"region {admdvs} gives {name}"):
        before.get(name)
    assert lib.policy_for(admdvs, day_of).get(name).since == day_of


@pytest.mark.parametrize("admdvs", [KAIFENG, JIAOZUO, DATONG])
def test_borrowed_benefit_values_are_assumed_with_the_regions_note(admdvs):
    """POLICY.md §9: Kaifeng, Jiaozuo and Datong borrow Xinyang's member benefits, marked assumed."""
    lib = default_library()
    [source] = [s for s in lib.regions[admdvs].sources if s.document == "xinyang-2022-23"]
    policy = lib.policy_for(admdvs, date(2024, 9, 1))
    assert source.borrowed is not None
    for name in source.borrowed:
        cited = policy.get(name)
        if cited.document != "信政办〔2022〕23号":
            continue  # the region's own document comes first for this one
        assert cited.assumed, name
        assert cited.note == source.note, name
        assert cited.citation().endswith("（假设）")
    assert policy.get("deductible_level3").note == source.note


def test_xinyangs_own_benefit_values_are_not_assumed():
    cited = default_library().policy_for(XINYANG, date(2024, 3, 20)).get("deductible_level3")
    assert (cited.assumed, cited.note, cited.citation()) == (False, "", "信政办〔2022〕23号 第五条（一）")


@pytest.mark.parametrize(
    ("admdvs", "name", "since", "own_date"),
    [
        (XINYANG, "rx_days_normal", date(2022, 7, 1), date(2024, 8, 1)),
        (XINYANG, "excluded_cost_kinds", date(2022, 7, 1), date(2024, 8, 1)),
        (XINYANG, "payment_scheme", date(2022, 7, 1), date(2023, 11, 2)),
        (KAIFENG, "rx_days_chronic", date(2022, 7, 1), date(2024, 8, 1)),
        (DATONG, "rx_days_normal", date(2023, 1, 1), date(2024, 8, 1)),
        (DATONG, "deposit_rate", date(2023, 1, 1), date(2023, 11, 2)),
    ],
)
def test_values_from_moves_a_borrowed_values_first_date_in_the_shipped_profiles(admdvs, name, since, own_date):
    lib = default_library()
    cited = lib.policy_for(admdvs, since).get(name)
    assert cited.since == since
    assert cited.assumed
    # In the lending document the value starts on its own date.
    lender = {"rx_days_normal": "jiaozuo-2024-32", "excluded_cost_kinds": "jiaozuo-2024-32",
              "rx_days_chronic": "jiaozuo-2024-32", "payment_scheme": "kaifeng-2023-29",
              "deposit_rate": "kaifeng-2023-29"}[name]
    assert min(lib.documents[lender].parameters[name].values) == own_date


def test_shipped_policy_version_is_stable_and_shared_between_unchanged_dates():
    lib = default_library()
    a = lib.policy_for(XINYANG, date(2024, 3, 20))
    assert lib.policy_for(XINYANG, date(2024, 3, 20)).version == a.version
    assert load_library().policy_for(XINYANG, date(2024, 3, 20)).version == a.version
    # Nothing in Xinyang's documents changes after 2023-02-15.
    assert lib.policy_for(XINYANG, date(2024, 12, 31)).version == a.version
    assert lib.policy_for(XINYANG, date(2023, 2, 14)).version != a.version
    assert lib.policy_for(KAIFENG, date(2023, 11, 1)).version != lib.policy_for(KAIFENG, date(2023, 11, 2)).version


def test_shipped_policy_version_changes_when_a_value_in_a_copy_changes(tmp_path):
    root = tmp_path / "policy"
    shutil.copytree(POLICY_DIR, root)
    path = root / "documents" / "xinyang-2022-23.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('value: "50.00"', 'value: "60.00"'), encoding="utf-8")
    copy = load_library(root).policy_for(XINYANG, date(2024, 3, 20))
    shipped = default_library().policy_for(XINYANG, date(2024, 3, 20))
    assert copy.get("deductible_level3").value == Decimal("60.00")
    assert copy.version != shipped.version
    # Datong borrows the value, so its version moves too.
    assert (load_library(root).policy_for(DATONG, date(2024, 3, 20)).version
            != default_library().policy_for(DATONG, date(2024, 3, 20)).version)


@pytest.mark.parametrize("admdvs", ALL_REGIONS)
@pytest.mark.parametrize("day", [date(2022, 7, 1), date(2023, 2, 20), date(2023, 11, 2), date(2024, 8, 1)])
def test_policy_round_trips_through_its_record_with_the_same_version(admdvs, day):
    policy = default_library().policy_for(admdvs, day)
    again = Policy.from_record(policy.as_record())
    assert again == policy
    assert again.version == policy.version
    # And through JSON, as the event store keeps it.
    assert Policy.from_record(json.loads(json.dumps(policy.as_record(), ensure_ascii=False))) == policy


def test_policy_record_tampered_with_is_refused():
    record = default_library().policy_for(XINYANG, date(2024, 3, 20)).as_record()
    [param] = [p for p in record["params"] if p["name"] == "deductible_level3"]
    param["value"] = "10.00"
    with pytest.raises(PolicyError, match="hashes to"):
        Policy.from_record(record)


def test_every_shipped_value_carries_its_document_and_article():
    lib = default_library()
    for admdvs in lib.regions_known():
        for cited in lib.policy_for(admdvs, date(2024, 8, 1)).params.values():
            assert cited.document, cited.name
            assert cited.article, cited.name
            if cited.assumed:
                assert cited.note, cited.name


# --------------------------------------------------------------------------------------------
# What-if reforms: PolicyLibrary.with_overrides


REFORM = PolicyFile.model_validate({
    "document": {"id": "reform-2024", "issuer": "信阳市医疗保障局", "number": "改革〔2024〕1号", "title": "拟议调整",
                 "in_force": date(2024, 1, 1)},
    "parameters": {
        "deductible_level3": {"description": "三级起付标准（拟）", "unit": "CNY",
                              "values": {date(2024, 1, 1): {"value": "80.00", "article": "第一条"}}},
    },
})


def test_with_overrides_puts_the_reform_first_for_its_region():
    """(400.00 − 80.00) × 50 % = 160.00 under the reform, instead of 175.00."""
    reformed = default_library().with_overrides(REFORM, XINYANG)
    policy = reformed.policy_for(XINYANG, date(2024, 3, 20))
    cited = policy.get("deductible_level3")
    assert (cited.value, cited.citation()) == (Decimal("80.00"), "改革〔2024〕1号 第一条")
    # Everything else still comes from the region's own documents.
    assert policy.get("ratio_level3").citation() == "信政办〔2022〕23号 第五条（二）"
    claim = Claim("visit", date(2024, 3, 20), "11", False,
                  (Line("1", "X", "x", Decimal("1"), Decimal("400.00"), None, "01"),))
    ctx = Context(psn_type="11", institution_kind="hospital", institution_level=3, institution_designated=True)
    assert adjudicate(claim, ctx, policy).setlinfo["hifp_pay"] == Decimal("160.00")


def test_with_overrides_changes_the_version_only_from_the_reforms_date():
    lib = default_library()
    reformed = lib.with_overrides(REFORM, XINYANG)
    day_before = date(2023, 12, 31)
    assert reformed.policy_for(XINYANG, day_before).get("deductible_level3").value == Decimal("50.00")
    assert reformed.policy_for(XINYANG, day_before).version == lib.policy_for(XINYANG, day_before).version
    assert reformed.policy_for(XINYANG, date(2024, 3, 20)).version != lib.policy_for(XINYANG, date(2024, 3, 20)).version


def test_with_overrides_leaves_other_regions_and_the_original_library_alone():
    lib = default_library()
    reformed = lib.with_overrides(REFORM, XINYANG)
    assert reformed.policy_for(KAIFENG, date(2024, 3, 20)).version == lib.policy_for(KAIFENG, date(2024, 3, 20)).version
    assert lib.policy_for(XINYANG, date(2024, 3, 20)).get("deductible_level3").value == Decimal("50.00")
    assert "reform-2024" not in lib.documents
