"""Balances: what each funder holds and what its open orders reserve.

A BUY reserves collateral (size x price, rounded up: never under-reserve); a SELL
reserves the tokens it offers. Settlement moves collateral against tokens for one side
of a fill; ``reverse`` undoes a settlement when a trade ends FAILED. Integer micro-units
only; no orders' lifecycle, no matching.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field

from .config import PRICE_SCALE
from .model import BUY, Order


@dataclass
class Balance:
    collateral: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    locked_collateral: int = 0
    locked_tokens: dict[str, int] = field(default_factory=dict)

    def available_collateral(self) -> int:
        return self.collateral - self.locked_collateral

    def available_tokens(self, token_id: str) -> int:
        return self.tokens.get(token_id, 0) - self.locked_tokens.get(token_id, 0)


class Ledger:
    def __init__(self) -> None:
        self.balances: dict[str, Balance] = {}

    def balance(self, address: str) -> Balance:
        address = address.lower()
        bal = self.balances.get(address)
        if bal is None:
            bal = self.balances[address] = Balance()
        return bal

    @staticmethod
    def lock_for(o: Order, remaining: int) -> int:
        if o.side == BUY:
            return -(-remaining * o.price // PRICE_SCALE)  # ceil: never under-reserve
        return remaining

    def available_for(self, o: Order) -> int:
        bal = self.balance(o.maker)
        return bal.available_collateral() if o.side == BUY else bal.available_tokens(o.token_id)

    def set_lock(self, o: Order, new_lock: int) -> None:
        bal = self.balance(o.maker)
        delta = new_lock - o.locked
        o.locked = new_lock
        if o.side == BUY:
            bal.locked_collateral += delta
        else:
            bal.locked_tokens[o.token_id] = bal.locked_tokens.get(o.token_id, 0) + delta

    def settle(self, o: Order, q: int, amount: int) -> None:
        """One side of a fill: q shares against ``amount`` collateral; the reservation shrinks."""
        bal = self.balance(o.maker)
        o.matched += q
        self._move(bal, o, q, amount, 1)
        self.set_lock(o, self.lock_for(o, o.remaining) if o.remaining else 0)

    def reverse(self, o: Order, q: int, amount: int) -> None:
        """Undo the balance effect of ``settle`` (a FAILED trade); the order's fill count stays."""
        self._move(self.balance(o.maker), o, q, amount, -1)

    @staticmethod
    def _move(bal: Balance, o: Order, q: int, amount: int, sign: int) -> None:
        if o.side == BUY:
            bal.collateral -= sign * amount
            bal.tokens[o.token_id] = bal.tokens.get(o.token_id, 0) + sign * q
        else:
            bal.tokens[o.token_id] = bal.tokens.get(o.token_id, 0) - sign * q
            bal.collateral += sign * amount

    def fund(
        self, address: str, collateral: int | None, tokens: dict[str, int], *, mode: str, known_tokens: Container[str]
    ) -> Balance:
        """Set (or add to) balances. Amounts in micro-units; unknown token ids raise KeyError."""
        bal = self.balance(address)
        for tok in tokens:
            if tok not in known_tokens:
                raise KeyError(tok)
        if collateral is not None:
            bal.collateral = collateral if mode == "set" else bal.collateral + collateral
        for tok, amt in tokens.items():
            bal.tokens[tok] = amt if mode == "set" else bal.tokens.get(tok, 0) + amt
        return bal
