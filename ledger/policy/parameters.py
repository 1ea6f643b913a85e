"""The only reader of policy files: dated, cited parameters, resolved per region and date.

Each source document in ``ledger/policy/documents/`` holds its parameters in the manner of
OpenFisca's parameter files: a value per effective date, each with the article it comes
from. ``ledger/policy/regions.yaml`` says which documents a pooling region reads, in order.
:meth:`PolicyLibrary.policy_for` resolves the parameters in force for a region on a date
into a :class:`Policy` whose content hash is the policy version a settlement records.
Reading the files is :mod:`ledger.policy.files`'s: this module does no I/O, so the rules may
name its types.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ledger.errors import PolicyError, PolicyNotInForceError

Unit = Literal[
    "CNY", "/1", "days", "months", "count", "flag", "choice", "list", "map_CNY", "brackets", "weights"
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _decimal(raw: object, *, what: str) -> Decimal:
    """Read a decimal written as a string; floats are refused, they are not exact."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        msg = f"{what} must be written as a quoted decimal string, not {raw!r}"
        raise ValueError(msg)
    try:
        return Decimal(str(raw))
    except ArithmeticError:
        msg = f"{what} must be a decimal, not {raw!r}"
        raise ValueError(msg) from None


def _check_value(unit: Unit, raw: Any, choices: tuple[str, ...]) -> Any:
    """Validate one dated value against its unit and return it in its exact form."""
    if unit == "CNY":
        value = _decimal(raw, what="an amount")
        if value < 0 or value != value.quantize(Decimal("0.01")):
            msg = f"an amount must be a non-negative number of fen, got {raw!r}"
            raise ValueError(msg)
        return value
    if unit == "/1":
        value = _decimal(raw, what="a rate")
        if not Decimal(0) <= value <= Decimal(2):
            msg = f"a rate must lie between 0 and 2, got {raw!r}"
            raise ValueError(msg)
        return value
    if unit in ("days", "months", "count"):
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            msg = f"{unit} must be a whole non-negative number, got {raw!r}"
            raise ValueError(msg)
        return raw
    if unit == "flag":
        if not isinstance(raw, bool):
            msg = f"a flag must be true or false, got {raw!r}"
            raise ValueError(msg)
        return raw
    if unit == "choice":
        if raw not in choices:
            msg = f"{raw!r} is not one of {list(choices)}"
            raise ValueError(msg)
        return raw
    if unit == "list":
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            msg = f"a list must hold strings, got {raw!r}"
            raise ValueError(msg)
        return tuple(raw)
    if unit == "weights":
        if not isinstance(raw, list) or not all(isinstance(x, int) and x > 0 for x in raw):
            msg = f"weights must be positive whole numbers, got {raw!r}"
            raise ValueError(msg)
        return tuple(raw)
    if unit == "map_CNY":
        if not isinstance(raw, dict):
            msg = f"a map must be keyed by name, got {raw!r}"
            raise ValueError(msg)
        return {str(k): _check_value("CNY", v, ()) for k, v in sorted(raw.items())}
    # brackets: [{from, value}], thresholds strictly descending so the first match wins.
    if not isinstance(raw, list) or not raw:
        msg = f"brackets must be a non-empty list, got {raw!r}"
        raise ValueError(msg)
    rows = []
    for row in raw:
        if not isinstance(row, dict) or set(row) != {"from", "value"}:
            msg = f"a bracket is {{from, value}}, got {row!r}"
            raise ValueError(msg)
        rows.append((_decimal(row["from"], what="a threshold"), _decimal(row["value"], what="a rate")))
    if [r[0] for r in rows] != sorted((r[0] for r in rows), reverse=True):
        msg = "bracket thresholds must be listed from highest to lowest"
        raise ValueError(msg)
    return tuple(rows)


class DatedValue(_Frozen):
    """One value of a parameter, in force from its date, with the article it rests on."""

    value: Any
    article: str = Field(min_length=1)


class Parameter(_Frozen):
    """A named parameter of a document: what it is, its unit, and its dated values."""

    description: str
    unit: Unit
    choices: tuple[str, ...] = ()
    note: str = ""
    values: dict[date, DatedValue | None]
    """Values keyed by the date they take effect; ``null`` ends the parameter."""

    @model_validator(mode="after")
    def _values_fit_unit(self) -> Parameter:
        checked: dict[date, DatedValue | None] = {}
        for day, dated in self.values.items():
            if dated is None:
                checked[day] = None
                continue
            try:
                value = _check_value(self.unit, dated.value, self.choices)
            except ValueError as e:
                msg = f"value from {day}: {e}"
                raise ValueError(msg) from None
            checked[day] = DatedValue.model_construct(value=value, article=dated.article)
        object.__setattr__(self, "values", dict(sorted(checked.items())))
        return self


class Document(_Frozen):
    """A source document: who issued it, its number, and when it took effect."""

    id: str
    issuer: str
    number: str
    title: str
    issued: date | None = None
    in_force: date | None = None
    source: str = ""
    assumed: bool = False


class PolicyFile(_Frozen):
    """One parameter file: a document and its parameters."""

    document: Document
    parameters: dict[str, Parameter]


class Source(_Frozen):
    """A document as a region reads it: its own, or borrowed for the listed parameters."""

    document: str
    borrowed: tuple[str, ...] | None = None
    note: str = ""
    values_from: date | None = None
    """For a borrowed document: its values apply from this date, earlier or later than their own (an assumption)."""

    @field_validator("borrowed")
    @classmethod
    def _non_empty(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is not None and not v:
            msg = "a borrowed source must list the parameters it lends"
            raise ValueError(msg)
        return v


class RegionProfile(_Frozen):
    """The documents a pooling region reads, first match wins."""

    name: str
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Cited:
    """A parameter value as resolved for a region and date, with everything a regulator asks."""

    name: str
    value: Any
    unit: str
    since: date
    document: str
    article: str
    assumed: bool = False
    note: str = ""

    def as_record(self) -> dict[str, Any]:
        """The JSON-ready form recorded in the log and shown in explanations."""
        return {
            "name": self.name,
            "value": _jsonable(self.value),
            "unit": self.unit,
            "since": self.since.isoformat(),
            "document": self.document,
            "article": self.article,
            "assumed": self.assumed,
            "note": self.note,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Cited:
        """Rebuild a cited value from its recorded form (the inverse of :meth:`as_record`)."""
        return cls(
            name=record["name"],
            value=_from_json(record["unit"], record["value"]),
            unit=record["unit"],
            since=date.fromisoformat(record["since"]),
            document=record["document"],
            article=record["article"],
            assumed=record["assumed"],
            note=record["note"],
        )

    def citation(self) -> str:
        """Document number and article, flagged when assumed."""
        return f"{self.document} {self.article}" + ("（假设）" if self.assumed else "")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _from_json(unit: str, value: Any) -> Any:
    """Turn a recorded value back into its exact form (the inverse of :func:`_jsonable`)."""
    if unit in ("CNY", "/1"):
        return Decimal(value)
    if unit in ("list", "weights"):
        return tuple(value)
    if unit == "map_CNY":
        return {k: Decimal(v) for k, v in value.items()}
    if unit == "brackets":
        return tuple((Decimal(low), Decimal(rate)) for low, rate in value)
    return value


@dataclass(frozen=True)
class Policy:
    """The parameters in force for one region on one date, and their content hash."""

    admdvs: str
    params: dict[str, Cited]
    version: str = field(default="")

    def __post_init__(self) -> None:
        if not self.version:
            object.__setattr__(self, "version", _content_hash(self.admdvs, self.params))

    def get(self, name: str) -> Cited:
        """The cited value of ``name``; an error when no file covers it for this region and date."""
        try:
            return self.params[name]
        except KeyError:
            msg = f"no policy in force for region {self.admdvs} gives {name}"
            raise PolicyNotInForceError(msg) from None

    def has(self, name: str) -> bool:
        """Whether ``name`` is in force for this region and date."""
        return name in self.params

    def as_record(self) -> dict[str, Any]:
        """The resolved parameter set as recorded in the log (``PolicyVersion.Recorded``)."""
        return {
            "admdvs": self.admdvs,
            "version": self.version,
            "params": [self.params[k].as_record() for k in sorted(self.params)],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Policy:
        """Rebuild a policy version from the log, so a replay needs no policy files."""
        params = {p["name"]: Cited.from_record(p) for p in record["params"]}
        policy = cls(admdvs=record["admdvs"], params=params)
        if policy.version != record["version"]:
            msg = f"recorded policy {record['version']} hashes to {policy.version}"
            raise PolicyError(msg)
        return policy


def _content_hash(admdvs: str, params: dict[str, Cited]) -> str:
    payload = json.dumps(
        {"admdvs": admdvs, "params": [params[k].as_record() for k in sorted(params)]},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


class PolicyLibrary:
    """All documents and region profiles; resolves the policy for a region and date."""

    def __init__(self, documents: dict[str, PolicyFile], regions: dict[str, RegionProfile]) -> None:
        self.documents = documents
        self.regions = regions
        for admdvs, profile in regions.items():
            for source in profile.sources:
                if source.document not in documents:
                    msg = f"region {admdvs} reads unknown document {source.document}"
                    raise PolicyError(msg)
                for name in source.borrowed or ():
                    if name not in documents[source.document].parameters:
                        msg = f"region {admdvs} borrows {name}, which {source.document} lacks"
                        raise PolicyError(msg)
        self._timelines = {a: self._timeline(a) for a in regions}
        self._cache: dict[tuple[str, int], Policy] = {}

    def _entries(self, admdvs: str) -> list[tuple[str, Source, Parameter]]:
        """Every (name, source, parameter) the region reads, in precedence order."""
        entries = []
        for source in self.regions[admdvs].sources:
            doc = self.documents[source.document]
            for name, param in doc.parameters.items():
                if source.borrowed is None or name in source.borrowed:
                    entries.append((name, source, param))
        return entries

    def _timeline(self, admdvs: str) -> list[date]:
        """The dates on which anything in the region's policy changes."""
        days: set[date] = set()
        for _, source, param in self._entries(admdvs):
            days.update(self._dated_values(source, param))
        return sorted(days)

    @staticmethod
    def _dated_values(source: Source, param: Parameter) -> dict[date, DatedValue | None]:
        """A parameter's dated values as the source lends them: from ``values_from`` on, if given."""
        values = dict(param.values)
        start = source.values_from
        if start is None or not values:
            return values
        in_force = [d for d in values if d <= start]
        opening = max(in_force) if in_force else min(values)
        return {start: values[opening], **{d: v for d, v in values.items() if d > max(start, opening)}}

    def regions_known(self) -> list[str]:
        """The admdvs codes that have a profile."""
        return sorted(self.regions)

    def policy_for(self, admdvs: str, day: date) -> Policy:
        """The policy in force for ``admdvs`` on ``day``."""
        if admdvs not in self.regions:
            msg = f"no policy profile for region {admdvs}"
            raise PolicyNotInForceError(msg)
        timeline = self._timelines[admdvs]
        index = bisect_right(timeline, day)
        if index == 0:
            msg = f"no policy in force for region {admdvs} on {day.isoformat()}"
            raise PolicyNotInForceError(msg)
        key = (admdvs, index)
        policy = self._cache.get(key)
        if policy is None:
            policy = self._resolve(admdvs, timeline[index - 1])
            self._cache[key] = policy
        return policy

    def _resolve(self, admdvs: str, day: date) -> Policy:
        params: dict[str, Cited] = {}
        for name, source, param in self._entries(admdvs):
            if name in params:
                continue
            values = self._dated_values(source, param)
            in_force = [d for d in values if d <= day]
            if not in_force:
                continue
            since = max(in_force)
            dated = values[since]
            if dated is None:
                continue
            doc = self.documents[source.document].document
            borrowed = source.borrowed is not None
            params[name] = Cited(
                name=name,
                value=dated.value,
                unit=param.unit,
                since=since,
                document=doc.number,
                article=dated.article,
                assumed=doc.assumed or borrowed,
                note=(source.note if borrowed else param.note),
            )
        return Policy(admdvs=admdvs, params=params)

    def with_overrides(self, overrides: PolicyFile, admdvs: str) -> PolicyLibrary:
        """A library in which ``overrides`` comes first for ``admdvs`` (a what-if reform)."""
        documents = {**self.documents, overrides.document.id: overrides}
        profile = self.regions[admdvs]
        regions = {
            **self.regions,
            admdvs: RegionProfile(
                name=profile.name,
                sources=(Source(document=overrides.document.id), *profile.sources),
            ),
        }
        return PolicyLibrary(documents, regions)
