"""Desired state: YAML manifest files -> validated, typed ``MarketMakerSpec`` values.

Reads files and nothing else: no network, no clock, no exchange data.
"""
