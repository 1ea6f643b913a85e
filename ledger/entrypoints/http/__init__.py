"""The online settlement service (``ledger serve``): the national platform's interface over HTTP."""

from ledger.entrypoints.http.app import create_app

__all__ = ["create_app"]
