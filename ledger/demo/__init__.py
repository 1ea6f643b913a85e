"""The demo city: a deterministic synthetic city-year, outside the production path."""
