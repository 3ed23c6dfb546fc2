"""What operators see: status conditions, health, metrics, logging, Sentry and redaction.

Reports on the controller; changes nothing in the market.
"""
