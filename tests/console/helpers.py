"""Reading the console's HTML in tests: tables by id, cards by id, the SVG charts."""

from __future__ import annotations

import re
from html.parser import HTMLParser

SVG = re.compile(r"<svg\b[^>]*>(.*?)</svg>", re.S)
MARKS = re.compile(r"<(rect|polyline)\b[^>]*class=\"(bar|line|step)\"")


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.ids: dict[str, str] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._by_id: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        if a.get("id"):
            self._by_id.append((tag, [a["id"] or ""]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        for _tag, holder in self._by_id:
            holder.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    """Every table's rows (header rows included) as cell texts, by table id."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def text_of(html: str, element_id: str) -> str:
    """The text inside the element with ``element_id`` (the first of its texts)."""
    match = re.search(rf'id="{re.escape(element_id)}"[^>]*>([^<]*)<', html)
    assert match, f"no element {element_id}"
    return match.group(1).strip()


def charts(html: str) -> list[str]:
    """The inner markup of every inline SVG."""
    return SVG.findall(html)


def drawn(svg: str) -> int:
    """How many bars, lines and steps a chart draws."""
    return len(MARKS.findall(svg))
