"""The domain: aggregates and their events, and their deterministic ids. No I/O.

Members, institutions, regions, visits, settlements, prescriptions and policy versions.
"""
