"""Observed state: books, open orders and balances as the exchange reports them.

Holds and snapshots what the venue has parsed; decides nothing.
"""
