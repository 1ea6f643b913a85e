"""The bureau's catalogue (医保目录): each item's class, payment standard and restriction, by date.

A catalogue file in ``ledger/policy/catalogue/`` names the regions that use it and lists items
by national code (``med_list_codg``), each with dated entries like a policy parameter's: the
class (甲 01 / 乙 02 / 丙 03), the payment standard (支付标准) or, for a centrally procured drug,
the procurement price that is its standard (信政办〔2022〕23号 第十八条), and a restriction
(限定支付范围, 同医保办发〔2022〕1号 第十六条) by institution level or by indication. A ``null``
entry delists the item from its date.

The catalogue is a dated file, not booked events: it is published by the bureau as a whole and
reviewed with the policy files, and a settlement records the entry it applied, so a replay or an
audit never needs the file again. The files are read by ``ledger.policy.files``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ledger.errors import PolicyError


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _yuan(raw: object) -> Decimal | None:
    """A price written as a quoted decimal string (never a float), at most six decimals."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, str):
        msg = f"a price must be a quoted decimal string, not {raw!r}"
        raise ValueError(msg)
    value = Decimal(raw)
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.000001")):
        msg = f"a price must be a non-negative decimal with at most six places, got {raw!r}"
        raise ValueError(msg)
    return value


class Restriction(_Frozen):
    """限定支付范围: paid by the fund only at institutions of ``min_level`` and up, or for ``indication``."""

    min_level: Literal[1, 2, 3] | None = None
    indication: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _says_something(self) -> Restriction:
        if self.min_level is None and self.indication is None:
            msg = "a restriction gives min_level or indication"
            raise ValueError(msg)
        return self


class Entry(_Frozen):
    """An item as listed from one date."""

    chrgitm_lv: Literal["01", "02", "03"]
    pric_uplmt_amt: Decimal | None = None
    procurement_price: Decimal | None = None
    """集中带量采购中选价格: the payment standard of a centrally procured drug (第十八条)."""
    restriction: Restriction | None = None
    article: str = ""
    """Where the entry's standard or restriction rests, when on an article rather than the catalogue itself."""

    @field_validator("pric_uplmt_amt", "procurement_price", mode="before")
    @classmethod
    def _exact(cls, raw: object) -> Decimal | None:
        return _yuan(raw)

    @model_validator(mode="after")
    def _one_standard(self) -> Entry:
        if self.pric_uplmt_amt is not None and self.procurement_price is not None:
            msg = "give pric_uplmt_amt or procurement_price, not both"
            raise ValueError(msg)
        return self


class Item(_Frozen):
    """A catalogue item: its name and dated entries (``null`` delists it)."""

    name: str
    values: dict[date, Entry | None]


class Header(_Frozen):
    """Who publishes the catalogue and which regions use it."""

    id: str
    issuer: str
    number: str
    title: str
    regions: tuple[str, ...] = Field(min_length=1)
    assumed: bool = False
    note: str = ""


class CatalogueFile(_Frozen):
    """One catalogue file."""

    catalogue: Header
    items: dict[str, Item]


@dataclass(frozen=True)
class Listing:
    """What the catalogue says of one item on a service date: what a settlement records and applies."""

    chrgitm_lv: str
    pric_uplmt_amt: Decimal | None
    """The payment standard: the procurement price for a centrally procured drug."""
    procured: bool
    min_level: int | None
    indication: str | None
    since: date
    article: str

    def as_record(self) -> list[Any]:
        """The compact form a settlement records with each listed line (one per line: kept small)."""
        std = None if self.pric_uplmt_amt is None else str(self.pric_uplmt_amt)
        return [self.chrgitm_lv, std, self.procured, self.min_level, self.indication, self.since.isoformat(),
                self.article]

    @classmethod
    def from_record(cls, record: list[Any]) -> Listing:
        """Inverse of :meth:`as_record`: one object per distinct entry (listings are immutable).

        An audit reads every settled line's listing back, and a city's bills list the same few
        thousand entries again and again.
        """
        return _listing(tuple(record))


@lru_cache(maxsize=4096)
def _listing(record: tuple[Any, ...]) -> Listing:
    lv, std, procured, min_level, indication, since, article = record
    return Listing(lv, None if std is None else Decimal(std), procured, min_level, indication,
                   date.fromisoformat(since), article)


class Catalogue:
    """Every catalogue file, looked up by region, date and item code."""

    def __init__(self, files: list[CatalogueFile]) -> None:
        self.by_region: dict[str, CatalogueFile] = {}
        for f in files:
            for admdvs in f.catalogue.regions:
                if admdvs in self.by_region:
                    msg = f"region {admdvs} is in catalogues {self.by_region[admdvs].catalogue.id} and {f.catalogue.id}"
                    raise PolicyError(msg)
                self.by_region[admdvs] = f

    def name(self, admdvs: str) -> str | None:
        """The number of the catalogue a region uses (marked when assumed), or None if it has none."""
        f = self.by_region.get(admdvs)
        if f is None:
            return None
        return f.catalogue.number + ("（假设）" if f.catalogue.assumed else "")

    def listing(self, admdvs: str, day: date, med_list_codg: str) -> Listing | None:
        """The item as listed for ``admdvs`` on ``day``; None when it is not listed then."""
        f = self.by_region.get(admdvs)
        item = f.items.get(med_list_codg) if f else None
        if f is None or item is None:
            return None
        in_force = [d for d in item.values if d <= day]
        if not in_force:
            return None
        since = max(in_force)
        entry = item.values[since]
        if entry is None:
            return None
        restriction = entry.restriction
        procured = entry.procurement_price is not None
        return Listing(
            chrgitm_lv=entry.chrgitm_lv, pric_uplmt_amt=entry.procurement_price if procured else entry.pric_uplmt_amt,
            procured=procured, min_level=restriction.min_level if restriction else None,
            indication=restriction.indication if restriction else None, since=since, article=entry.article,
        )
