"""Transcodings the event store needs beyond the library's own (DecimalAsStr, DatetimeAsISO)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

import orjson
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Transcoding, UUIDAsHex


class DateAsISO(Transcoding):
    """Transcoding that represents :class:`date` objects (effective dates) as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        """``2024-03-20``."""
        return obj.isoformat()

    def decode(self, data: str) -> date:
        """Back to a date: one object per day, shared by every event and snapshot decoded.

        A cached member holds a date per settlement and per balance movement; dates are
        immutable, and a year has few of them, so sharing keeps them out of each member's size.
        """
        return _day(data)


_day = lru_cache(maxsize=4096)(date.fromisoformat)


class LedgerTranscoder(JSONTranscoder):
    """The library's JSON transcoder, encoding with orjson: the same bytes, about four times faster.

    Every value orjson does not write itself (Decimal, and dates and datetimes, which it is told
    to pass through) goes to the registered transcodings, tagged exactly as the library tags it,
    so what is stored reads back with the library's own decoder. (orjson writes a UUID as a
    plain string, untagged; the ledger's events and snapshots hold none.)
    """

    _options = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS

    def encode(self, obj: Any) -> bytes:
        """Encode ``obj`` as JSON bytes, copied to their own size.

        orjson 3.12 and later hands back bytes that keep the whole buffer it wrote them in, at
        least 4 KB: a batch of 5,000 members' standings (300 bytes each) held 20 MB, not 1.5
        (docs/benchmarks.md, twentieth set). The copy costs well under a microsecond.
        """
        return memoryview(orjson.dumps(obj, default=self._encode_obj, option=self._options)).tobytes()

    def typed(self, parsed: Any) -> Any:
        """What :meth:`decode` gives, from the JSON already parsed as plain data (``orjson.loads``).

        A read model that needs Python types (the audit's re-adjudication) reads events the
        runner has parsed once already: typing the parsed values costs less than decoding the
        bytes again (figures in docs/benchmarks.md). Each tagged object is decoded as the
        library's object hook decodes it, innermost first; ``parsed`` is left as it was.
        """
        kind = type(parsed)
        if kind is dict:
            if len(parsed) == 2 and "_type_" in parsed and "_data_" in parsed:  # a tag and its data
                name, data = parsed["_type_"], parsed["_data_"]
                transcoding = self.names.get(name) if type(name) is str else None
                if transcoding is not None and type(data) not in _NESTED:
                    return transcoding.decode(data)
                # Anything else as the object hook sees it: its values decoded first.
                return self._decode_obj({k: self.typed(v) if type(v) in _NESTED else v for k, v in parsed.items()})
            return {k: self.typed(v) if type(v) in _NESTED else v for k, v in parsed.items()}
        if kind is list:
            return [self.typed(v) if type(v) in _NESTED else v for v in parsed]
        return parsed

    def holds(self, parsed: Any, value: Any) -> bool:
        """Whether ``parsed`` (stored JSON parsed as plain data) types to ``value``: ``typed(parsed) == value``.

        A value the store tags (a Decimal, a date) is compared first as it would be stored,
        which spares typing what was stored as this very value; only a different text is typed
        and compared (``Decimal("1.0")`` equals ``Decimal("1.00")``, their texts differ). The
        audit compares each re-adjudicated amount with the recorded one so (figures in
        docs/benchmarks.md).
        """
        transcoding = self.types.get(type(value))
        if (transcoding is not None and type(parsed) is dict and len(parsed) == 2
                and parsed.get("_data_") == transcoding.encode(value) and parsed.get("_type_") == transcoding.name):
            return True
        return bool(self.typed(parsed) == value)


_NESTED = (dict, list)


def make_transcoder() -> LedgerTranscoder:
    """The transcoder the ledger's events are stored with, for reading a log without the application."""
    transcoder = LedgerTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    return transcoder
