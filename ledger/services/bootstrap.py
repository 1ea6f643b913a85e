"""The one composition root: builds the ledger application from configuration.

The CLI, the HTTP service, the scripts and the tests all get their application here, so the
choice of store, policy library and cache size is made in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.adapters.store import Store
from ledger.services.application import OutpatientPooling

if TYPE_CHECKING:
    from ledger.policy.parameters import PolicyLibrary


def bootstrap(db: str | Store | None = None, *, library: PolicyLibrary | None = None,
              event_store: str | None = None, cache_size: int = 50_000,
              env: dict[str, str] | None = None) -> OutpatientPooling:
    """The application on the store at ``db`` (a URL, a parsed ``Store``, or ``LEDGER_DB``'s default).

    ``event_store`` picks the core or the SQLAlchemy recorder (``LEDGER_EVENT_STORE`` otherwise);
    ``library`` replaces the bundled policy files (what-if runs and tests of reforms).
    """
    store = db if isinstance(db, Store) else Store.parse(db, event_store)
    return OutpatientPooling(store, library=library, cache_size=cache_size, env=env)
