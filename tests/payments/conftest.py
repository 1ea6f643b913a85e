"""The payment tests' shared check: whatever a test books, the journal stays balanced (Datong art. 27)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def journal_stays_balanced(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test that used an application: debits equal credits, in total and in the trial balance."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    yield
    tb = app.trial_balance()
    assert tb["balanced"] is True, tb
    assert tb["debit"] == tb["credit"]
