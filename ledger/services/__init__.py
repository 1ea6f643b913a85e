"""The service layer: booking messages, settling claims, period runs, corrections, queries, audit and what-if."""
