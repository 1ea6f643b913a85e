"""yibao-ledger: an event-sourced claims ledger for employee outpatient pooling (职工医保门诊统筹)."""
