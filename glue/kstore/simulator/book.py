"""Resting bids of one market: YES bids and NO bids, each price (NO-leg scale) -> size.

Contract: sizes are never negative and a level whose size reaches 0 disappears, so the
REST order book, WS snapshots and the delta stream always describe the same state.
"""

from __future__ import annotations

from .units import MICRO, contracts, dollars

SIDES = ("yes", "no")


class OrderBook:
    __slots__ = ("levels",)

    def __init__(self) -> None:
        self.levels: dict[str, dict[int, int]] = {"yes": {}, "no": {}}

    def size(self, side: str, price: int) -> int:
        return self.levels[side].get(price, 0)

    def apply(self, side: str, price: int, delta: int) -> None:
        """Apply a signed size change; refuses to drive a level below zero."""
        book = self.levels[side]
        size = book.get(price, 0) + delta
        if size < 0:
            raise ValueError(f"delta {delta} exceeds resting size at {side} {price}")
        if size:
            book[price] = size
        else:
            book.pop(price, None)

    def best(self, side: str) -> tuple[int, int] | None:
        """Best bid (highest price) of a side as (price, size), or None when empty."""
        book = self.levels[side]
        if not book:
            return None
        price = max(book)
        return price, book[price]

    def clear(self) -> None:
        for book in self.levels.values():
            book.clear()

    def wire_levels(self, side: str, decimals: int, yes_scale: bool = False) -> list[list[str]]:
        """Ascending [[price_dollars, size_fp], ...]; NO prices flipped to 1 - p on the YES scale."""
        flip = yes_scale and side == "no"
        pairs = [((MICRO - p) if flip else p, s) for p, s in self.levels[side].items()]
        pairs.sort()
        return [[dollars(p, decimals), contracts(s)] for p, s in pairs]


def top_of_book(book: OrderBook) -> tuple[int, int, int, int]:
    """(yes_bid, yes_bid_size, yes_ask, yes_ask_size); YES ask = 1 - best NO bid, 1.00 if none."""
    yes = book.best("yes") or (0, 0)
    no = book.best("no") or (0, 0)
    return yes[0], yes[1], MICRO - no[0], no[1]
