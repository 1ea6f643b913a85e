"""Inputs of the counter's transactions, for the service tests."""

from __future__ import annotations

from decimal import Decimal


def settle_input(mdtrt_id: str, total: str, *, bchno: str = "B1", psn_no: str = "M1", med_type: str = "11") -> dict:
    return {"data": {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": psn_no, "med_type": med_type,
                     "medfee_sumamt": total, "psn_setlway": "01", "mdtrt_id": mdtrt_id, "chrg_bchno": bchno,
                     "insutype": "310", "acct_used_flag": "0"}}


def register(caller, psn_no: str = "M1", day: str = "2024-03-20 08:30:00") -> str:
    out = caller.ok("2201", {"data": {"psn_no": psn_no, "insutype": "310", "begntime": day, "mdtrt_cert_type": "02",
                                      "mdtrt_cert_no": psn_no, "ipt_otp_no": "OTP1", "atddr_no": "D1",
                                      "dr_name": "Dr Li", "dept_code": "A01", "dept_name": "内科", "caty": "A01"}})
    assert out["data"]["psn_no"] == psn_no
    return out["data"]["mdtrt_id"]


def line(mdtrt_id: str, sn: str, pric, cnt=1, *, psn_no: str = "M1", lv: str = "01", **extra) -> dict:
    amount = str((Decimal(str(pric)) * Decimal(str(cnt))).quantize(Decimal("0.01")))
    return {"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11",
            "fee_ocur_time": "2024-03-20 08:40:00", "med_list_codg": "XJ01", "medins_list_codg": "H-XJ01",
            "det_item_fee_sumamt": amount, "cnt": cnt, "pric": pric, "chrgitm_lv": lv, **extra}



def cumulative(caller, cum_ym: str, psn_no: str = "M1") -> dict:
    out = caller.ok("5206", {"data": {"psn_no": psn_no, "cum_ym": cum_ym}})
    return {c["cum_type_code"]: c["cum"] for c in out["cuminfo"]}
