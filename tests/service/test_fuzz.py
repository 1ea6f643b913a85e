"""The published OpenAPI schema, fuzzed against the running service: no 500, no answer off the schema.

Requests are signed by an operator (so they reach the transactions, not only the signature
check); the bodies are what schemathesis makes of the request envelope's schema, 40 per
operation.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from ledger.services.credentials import signed_headers


def test_no_server_error_and_no_schema_violation(service):
    secret = service.app.state.credentials.issue("FUZZ", "operator")
    api = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert {op.path for op in operations} == {"/fsi/api/rsfComIfsService/callService", "/health"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            case.call_and_validate(base_url=service.url, headers=signed_headers("FUZZ", secret))

        fuzz()
