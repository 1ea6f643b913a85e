"""The synthetic city: deterministic, valid line by line, and booked by the ledger without a refusal."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest

from ledger.demo import city
from ledger.demo.city import CitySpec, generate, write_city
from ledger.exchange.messages import MESSAGE_TYPES, validate_message
from ledger.services.ingest import ingest_file

KAIFENG = CitySpec(admdvs="410200", members=60, hospitals=4, pharmacies=2, year=2025, months=12)
JIAOZUO = CitySpec(admdvs="410800", members=60, hospitals=4, pharmacies=2, year=2024, start_month=8, months=5)
XINYANG = CitySpec(admdvs="411500", members=40, hospitals=3, pharmacies=2, year=2024, months=14, seed=3)
DATONG = CitySpec(admdvs="140200", members=40, hospitals=5, pharmacies=1, year=2024, start_month=3, months=6,
                  seed=5)
SPECS = {"kaifeng": KAIFENG, "jiaozuo": JIAOZUO, "xinyang": XINYANG, "datong": DATONG}


def lines_of(spec: CitySpec, tmp_path, name: str = "city.jsonl") -> tuple[str, list[str]]:
    path = tmp_path / name
    count = write_city(spec, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == count
    return str(path), lines


# ------------------------------------------------------------------------- determinism


def test_the_same_spec_writes_the_same_bytes(tmp_path):
    write_city(KAIFENG, tmp_path / "a.jsonl")
    write_city(CitySpec(**vars(KAIFENG)), tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_generate_and_write_city_agree(tmp_path):
    _, lines = lines_of(JIAOZUO, tmp_path)
    assert [json.loads(line) for line in lines] == list(generate(JIAOZUO))


@pytest.mark.parametrize("name", ["kaifeng", "xinyang"])
def test_a_city_filed_to_disk_by_day_writes_the_same_bytes(name, tmp_path, monkeypatch):
    """A large city files its planned year by day (the spool); the order is the same as in memory."""
    _, held = lines_of(SPECS[name], tmp_path, "held.jsonl")
    monkeypatch.setattr(city, "SPOOL_LIMIT", 7)
    _, filed = lines_of(SPECS[name], tmp_path, "filed.jsonl")
    assert filed == held


def test_lines_are_compact_json_with_chinese_unescaped(tmp_path):
    _, lines = lines_of(JIAOZUO, tmp_path)
    for line in lines[:50]:
        assert line == json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))
    assert any("医院" in line for line in lines)


def test_different_seeds_differ():
    one = list(generate(CitySpec(members=30, months=2, seed=1)))
    two = list(generate(CitySpec(members=30, months=2, seed=2)))
    assert one != two
    assert [m for m in one if m["type"] == "institution.registered"] == [
        m for m in two if m["type"] == "institution.registered"]


# ------------------------------------------------------------------------------ shape


@pytest.mark.parametrize("name", SPECS)
def test_every_line_validates(name):
    for raw in generate(SPECS[name]):
        validate_message(raw)


@pytest.mark.parametrize("name", SPECS)
def test_dates_never_go_backwards(name):
    dates = [m["date"] for m in generate(SPECS[name])]
    assert dates == sorted(dates)


def test_codes_follow_the_conventions():
    pattern = {
        "fixmedins_code": r"[HP]410200\d{3}|H4108009\d{2}",
        "psn_no": r"M410200\d{6}",
        "medins_setl_id": r"([HP]410200\d{3}|H4108009\d{2})-S\d{7}",
        "mdtrt_id": r"(H410200\d{3}|H4108009\d{2})-V\d{7}",
        "rx_no": r"RX410200\d{7}",
    }
    for message in generate(KAIFENG):
        for field, regex in pattern.items():
            if field in message:
                assert re.fullmatch(regex, message[field]), (field, message[field])


def test_amounts_are_strings_with_two_decimals():
    money = re.compile(r"\d+\.\d{2}")
    for message in generate(KAIFENG):
        for field in ("contribution_base", "amount", "delivery_fee"):
            if field in message:
                assert money.fullmatch(message[field]), message
        for item in message.get("items", []):
            assert money.fullmatch(item["pric"])
            assert "pric_uplmt_amt" not in item or money.fullmatch(item["pric_uplmt_amt"])


def test_a_city_speaks_the_whole_vocabulary():
    seen = Counter(m["type"] for spec in (CitySpec(), JIAOZUO) for m in generate(spec))
    assert set(seen) == set(MESSAGE_TYPES)


def test_bills_carry_every_class_payment_standards_and_account_use():
    visits = [m for m in generate(KAIFENG) if m["type"] == "visit.settled"]
    items = [i for v in visits for i in v["items"]]
    assert {i["chrgitm_lv"] for i in items} == {"01", "02", "03"}
    assert any(Decimal(i["pric_uplmt_amt"]) < Decimal(i["pric"]) for i in items if "pric_uplmt_amt" in i)
    assert any(v["acct_used_flag"] for v in visits) and not all(v["acct_used_flag"] for v in visits)
    assert all(len(v["items"]) >= 1 for v in visits)
    assert Counter(v["mdtrt_id"] for v in visits).most_common(1)[0][1] == 2  # two bills under one visit


def test_prescriptions_keep_their_limits_and_purchases_their_validity():
    messages = list(generate(CitySpec()))
    issued = {m["rx_no"]: m for m in messages if m["type"] == "prescription.issued"}
    limit = {(False, False, "11"): 7, (False, False, "13"): 3, (True, False, "11"): 30, (True, True, "11"): 84}
    days: Counter[int] = Counter()
    for rx in issued.values():
        key = (rx["chronic"], rx["long_term"], rx["med_type"])
        assert all(d["days"] <= limit[key] for d in rx["drugs"]), rx
        days[max(d["days"] for d in rx["drugs"])] += 1
    assert days[30] and days[84]
    bought: dict[tuple[str, str], set[str]] = {}
    for p in (m for m in messages if m["type"] == "purchase.settled"):
        rx = issued[p["rx_no"]]
        assert rx["psn_no"] == p["psn_no"]
        assert 0 <= (date.fromisoformat(p["date"]) - date.fromisoformat(rx["date"])).days <= 6
        for item in p["items"]:
            bought.setdefault((p["rx_no"], item["med_list_codg"]), set()).add(p["fixmedins_code"])
    assert all(len(at) == 1 for at in bought.values())  # the same drug never at two institutions


def test_departed_members_have_no_later_facts():
    left: dict[str | None, str] = {}
    for m in generate(CitySpec(members=300, seed=4)):
        psn = m.get("psn_no")
        if psn in left:
            pytest.fail(f"{m['type']} for {psn} on {m['date']}, who left on {left[psn]}")
        if m["type"] in ("member.transferred_out", "member.deceased"):
            left[psn] = m["date"]
    assert left


def test_two_contribution_base_changes_of_a_member_never_share_a_day():
    """A member fact's key is the member, its type and its day.

    The ten-million-event city planned three corrections on the days of the same members' July
    adjustments, and the ledger refused each second change as the first one's key reused with
    another body. A second change goes to the next day, or is not planned when there is none.
    """
    c = city._City(KAIFENG)
    m = next(m for m in c.members if not m.retired)
    july, next_day = date(2025, 7, 23), date(2025, 7, 24)
    assert c._rebase(m, july, july)
    adjusted = m.base
    assert not c._rebase(m, july, july)
    assert m.base == adjusted
    assert c._rebase(m, july, next_day)
    planned = [(day, args[2]) for day in (july, next_day) for kind, args in c.spool.take(day)
               if kind == "fact" and args[:2] == ("contribution_base_changed", m.psn_no)]
    assert planned == [(july, (("contribution_base", str(adjusted)),)),
                       (next_day, (("contribution_base", str(m.base)),))]


def test_jiaozuo_hospitals_carry_categories_and_a_specialist_its_history():
    registered = [m for m in generate(JIAOZUO) if m["type"] == "institution.registered"]
    hospitals = [m for m in registered if m["kind"] == "hospital"]
    assert all(m.get("category") for m in hospitals)
    [specialist] = [m for m in hospitals if m["category"] == "specialist"]
    assert {2021, 2022, 2023} <= {int(y) for y in specialist["cost_history"]}
    assert specialist["provincial_class_average"]


def test_jiaozuo_cannot_start_before_its_scheme():
    with pytest.raises(ValueError, match="2024-08"):
        generate(CitySpec(admdvs="410800", year=2024))


def test_a_spec_with_nothing_in_it_is_refused():
    with pytest.raises(ValueError, match="members"):
        CitySpec(members=0)


# ------------------------------------------------------------------------- the ledger


def book_city(app, spec: CitySpec, tmp_path):
    path, lines = lines_of(spec, tmp_path)
    report = ingest_file(app, path)
    assert report.refused == 0, "\n".join(report.errors[:20])
    assert report.booked == len(lines)


def test_a_jiaozuo_city_books_every_line_and_clears_its_year(sqlite_app, tmp_path):
    book_city(sqlite_app, JIAOZUO, tmp_path)
    clearing = sqlite_app.clearing("410800", 2024)
    assert {row["fixmedins_code"] for row in clearing["rows"]} >= {"H410800001", "H410800002"}
    assert any("review" in row["basis"] or "COVID" in row["basis"] for row in clearing["rows"])


def test_a_kaifeng_city_books_every_line_and_clears_its_year_near_its_budget(sqlite_app, tmp_path):
    book_city(sqlite_app, KAIFENG, tmp_path)
    clearing = sqlite_app.clearing("410200", 2025)
    assert {row["fixmedins_code"] for row in clearing["rows"]} >= {"H410200001", "P410200001"}
    assert Decimal("0.85") <= Decimal(clearing["usage_rate"]) <= Decimal("1.05")


@pytest.mark.parametrize("name", ["xinyang", "datong"])
def test_cities_of_the_other_regions_book_every_line(sqlite_app, tmp_path, name):
    book_city(sqlite_app, SPECS[name], tmp_path)
