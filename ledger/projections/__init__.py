"""Read models: SQL tables rebuilt from the event log alone (one module per view, plus the runner)."""
