"""Parsing an event's stored JSON for the views that read it: whole, or only the fields they read.

A settlement's stored JSON is about 3.4 KB, three fifths of it the bill's lines and the
context the adjudication saw, which no read model looks at. orjson parses all of it; msgspec,
given the fields wanted as a ``TypedDict``, skips the rest without making objects of it,
in about two fifths of the time (figures in docs/benchmarks.md). A view names what it reads
of a topic (:meth:`ledger.projections.base.View.reads`); when every view that follows an
event does, the event is parsed for those fields only. The result is the same plain data,
a dict of the fields present, so the views cannot tell the difference; a view that names
no fields for a topic (the audit's re-adjudication, which replays a settlement from its bill)
gets it whole.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, TypedDict

import msgspec
import orjson

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

@cache
def parser(fields: tuple[str, ...] | None) -> Callable[[bytes], dict[str, Any]]:
    """A parser of the stored JSON: whole when ``fields`` is None, else those fields only (one per set of fields).

    A field is a key of the payload, or a dotted path (``result.acct_pay``) for one key of an
    object in it; naming an object's key alone (``result``) reads the object whole. A payload
    whose named object is not one (null, a list) is read whole, and so is one that is not JSON,
    which orjson then refuses as it would have.
    """
    if fields is None:
        return orjson.loads
    wanted = _typed_dict("Fields", _tree(fields))
    decode = msgspec.json.Decoder[dict[str, Any]](wanted).decode

    def named(state: bytes) -> dict[str, Any]:
        try:
            return decode(state)
        except msgspec.MsgspecError:  # a field named inside an object holds none: read it all, as orjson would
            return orjson.loads(state)

    return named


Tree = dict[str, "Tree | None"]
"""The fields as a tree: a key whose value is None is read whole."""


def _tree(fields: Iterable[str]) -> Tree:
    tree: Tree = {}
    for field in fields:
        *path, leaf = field.split(".")
        node: Tree | None = tree
        for key in path:
            if node is None:  # an object above is read whole already
                break
            node = node.setdefault(key, {})
        else:
            if node is not None:
                node[leaf] = None
    return tree


def _typed_dict(name: str, tree: Tree) -> type:
    """A ``TypedDict`` of the tree's keys, none of them required (a payload has what it has)."""
    annotations = {key: Any if sub is None else _typed_dict(f"{name}_{key}", sub) for key, sub in tree.items()}
    return TypedDict(name, annotations, total=False)  # type: ignore[operator]  # made at run time, on purpose
