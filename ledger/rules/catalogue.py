"""A bill line against the catalogue: the class, standard and restriction that apply, and what differs.

A listed item is settled by the catalogue's class and payment standard (for a centrally procured
drug the procurement price, 信政办〔2022〕23号 第十八条), whatever the sender declared; the
disagreement is said in the trace. An unlisted item is settled by the sender's declaration, and
the trace says so. 同医保办发〔2022〕1号 第十六条: 「对限定医疗机构级别和适应症使用的药品，不得超
限定范围纳入门诊统筹报销」: outside its restriction a listed item is fully self-paid.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.rules.lines import Line

CLASS_NAMES = {"01": "甲类", "02": "乙类", "03": "丙类"}


def as_listed(line: Line) -> Line:
    """The line with the catalogue's class and payment standard when the item is listed."""
    listing = line.listing
    if listing is None or (line.chrgitm_lv, line.pric_uplmt_amt) == (listing.chrgitm_lv, listing.pric_uplmt_amt):
        return line  # most senders declare what the catalogue lists: no copy to make
    return replace(line, chrgitm_lv=listing.chrgitm_lv, pric_uplmt_amt=listing.pric_uplmt_amt)


def outside_restriction_datong_art16(line: Line, level: int | None) -> str | None:
    """同医保办发〔2022〕1号 第十六条: why a listed item is outside its restricted scope, or None.

    Restricted by level: only at institutions of that level and up (a pharmacy's purchase is
    judged by its prescriber's level). Restricted by indication: only when the prescriber states
    the use is within it (``lmt_used_flag``).
    """
    listing = line.listing
    if listing is None:
        return None
    if listing.min_level is not None and (level is None or level < listing.min_level):
        return f"限{listing.min_level}级及以上医疗机构使用"
    if listing.indication is not None and line.lmt_used_flag is not True:
        return f"限定适应症（{listing.indication}），未申明符合"
    return None


def line_note(line: Line, level: int | None) -> str:
    """One line as the catalogue reads it, in words: listed or declared, and what disagrees."""
    head = f"{line.feedetl_sn} {line.med_list_codg}"
    listing = line.listing
    if listing is None:
        return f"{head}未列入目录，按申报{CLASS_NAMES[line.chrgitm_lv]}"
    text = f"{head}目录{CLASS_NAMES[listing.chrgitm_lv]}"
    if listing.pric_uplmt_amt is not None:
        kind = "集中采购中选价" if listing.procured else "支付标准"
        text += f"，{kind}{listing.pric_uplmt_amt}元"
    if listing.article:
        text += f"（{listing.article}）"
    differs = []
    if line.chrgitm_lv != listing.chrgitm_lv:
        differs.append(f"申报{CLASS_NAMES[line.chrgitm_lv]}")
    if line.pric_uplmt_amt != listing.pric_uplmt_amt:
        differs.append(f"申报支付标准{line.pric_uplmt_amt if line.pric_uplmt_amt is not None else '无'}")
    if differs:
        text += f"；{'、'.join(differs)}与目录不符，按目录"
    restricted = outside_restriction_datong_art16(line, level)
    if restricted:
        text += f"；{restricted}，全部自付"
    return text
