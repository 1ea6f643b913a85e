"""Adapters: the event store and read-model store, transcodings, and the speed machinery behind them.

``store`` (where the ledger lives), ``transcodings`` (the events' JSON), ``seam`` (every reach past
``eventsourcing``'s public API: the save bypass, the prefetch, the bulk log reader), ``writer`` (a
rebuild's second process), ``checkpoints`` and ``collector`` (SQLite checkpoints and the garbage
collector during batch runs).
"""
