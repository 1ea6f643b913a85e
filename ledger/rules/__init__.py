"""Pure rules, each beside the article it encodes: no I/O, no clock, no storage.

Every function takes the facts of a claim, the member's state at the decision and a
:class:`~ledger.rules.reader.Reader` over the policy in force, and returns amounts. The
reader records every parameter read, so the adjudication trace can show each value with
its date and citation.
"""
