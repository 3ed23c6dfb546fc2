"""The pure core: desired spec + observed state + time -> a Plan of cancels, places and keeps.

No I/O, no clock reads, no threads: everything it needs is an argument. Public names
are in ``controller.plan.bands``; the rules are in ``docs/bands.md``.
"""
