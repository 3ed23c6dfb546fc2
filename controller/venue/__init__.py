"""The exchange: authentication, REST, order signing, wire parsing and streams.

Knows Polymarket's protocol and nothing about bands, manifests or plans.
"""
