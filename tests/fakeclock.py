"""A clock the test moves by hand (injected wherever production code takes ``clock=``)."""

from __future__ import annotations


class FakeClock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t
