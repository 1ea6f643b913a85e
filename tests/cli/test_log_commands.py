"""``export``, ``audit`` and ``whatif`` on a ledger booked through ``ingest``: exit status and shape."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.cli.conftest import as_json

REFORM = """\
document:
  id: reform-test
  issuer: test
  number: 测试〔2024〕1号
  title: 三级医院支付比例提高到60%
  issued: 2024-01-01
  in_force: 2022-07-01
  source: tests
parameters:
  ratio_level3:
    description: 在三级定点医疗机构就医的统筹基金支付比例
    unit: /1
    values:
      2022-07-01: {value: "0.60", article: 一}
"""


def test_export_writes_the_whole_log(queried, tmp_path):
    path = tmp_path / "log.jsonl"
    result = queried("export", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("exported ")
    count = int(result.stdout.split()[1])
    assert count > 0
    assert len(path.read_text(encoding="utf-8").splitlines()) >= count


def test_audit_passes(queried):
    result = queried("audit", "--quiet", "--json")
    assert result.exit_code == 0, result.stdout
    out = json.loads(result.stdout)
    assert out["ok"] is True
    assert out["settlements_replayed"] >= 8
    assert out["journal"]["balanced"] is True
    text = queried("audit", "--quiet")
    assert text.exit_code == 0
    assert text.stdout.strip().endswith("audit passed")


def test_audit_of_an_export(queried, tmp_path):
    path = tmp_path / "log.jsonl"
    assert queried("export", str(path)).exit_code == 0
    result = queried("audit", "--quiet", "--from", str(path))
    assert result.exit_code == 0, result.stdout


@pytest.mark.parametrize("as_json_flag", [True, False])
def test_whatif_books_nothing(queried, tmp_path, as_json_flag):
    reform = tmp_path / "reform.yaml"
    reform.write_text(REFORM, encoding="utf-8")
    before = as_json(queried("journal", "--trial-balance", "--json"))
    args = ("whatif", "--policy", str(reform), "411500", "2024")
    result = queried(*args, "--json") if as_json_flag else queried(*args)
    assert result.exit_code == 0, result.stderr
    if as_json_flag:
        out = json.loads(result.stdout)
        rows = {r["fixmedins_code"]: r for r in out["rows"]}
        # H3 is a level-3 hospital: its live settlements that the fund paid would be paid more.
        assert Decimal(rows["H3"]["fund_difference"]) > 0
        assert Decimal(rows["H3"]["member_difference"]) == -Decimal(rows["H3"]["fund_difference"])
    assert as_json(queried("journal", "--trial-balance", "--json")) == before
