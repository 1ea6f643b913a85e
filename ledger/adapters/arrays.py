"""PostgreSQL arrays sent as one text parameter, which the server parses.

psycopg adapts a list parameter element by element in Python; for the 2,000 member ids of a
month close's page that cost more than the query (docs/benchmarks.md, eleventh set). The
array's text form is one string.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


def array_literal(values: Iterable[object]) -> str:
    """``values`` as a one-dimensional array's text form, each element quoted: ``{"a","b"}``.

    Cast it in the statement (``%s::uuid[]``); an element's ``str`` is what the server reads.
    """
    quoted = (str(value).replace("\\", "\\\\").replace('"', '\\"') for value in values)
    return "{" + ",".join(f'"{element}"' for element in quoted) + "}"
