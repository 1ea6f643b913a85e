"""Adapters: the event store and read-model store, transcodings, and the speed machinery behind them."""
