"""A bill line as adjudication sees it: the fact every line rule reads."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.policy.catalogues import Listing


@dataclass(frozen=True)
class Line:
    """A bill line as adjudication sees it."""

    feedetl_sn: str
    med_list_codg: str
    name: str
    cnt: Decimal
    pric: Decimal
    pric_uplmt_amt: Decimal | None
    chrgitm_lv: str
    exclusion: str | None = None
    lmt_used_flag: bool | None = None
    """The prescriber states the use is within the item's restricted scope (限定支付范围)."""
    listing: Listing | None = None
    """The catalogue's entry on the service date; None when unlisted (the declaration stands)."""
