"""The book against the broker: every position where they differ (missing at the broker, extra there, another
quantity, another price), and adopting the broker's side, each change said."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from backtest.types import Entry, Exit, QuoteFn
from data.contracts import parse_ticker
from db.mapping import close_by_exit, position_of_entry
from db.models import Position, PositionStatus
from trading.brokers.protocol import BrokerPosition
from trading.brokers.symbols import contract_of_occ
from trading.orders import split_position
from trading.trader import record_fill
from trading.rules import buy_back_cost


@dataclass(frozen=True)
class Difference:
    kind: str  # missing (the broker has none), extra (the book has none), quantity, price
    ticker: str
    book: int  # contracts short in the book
    broker: int  # contracts short at the broker
    book_price: float | None
    broker_price: float | None

    def __str__(self) -> str:
        def side(n: int, price: float | None) -> str:
            return f"{n} short" + (f" @ ${price:.2f}" if price is not None and n else "")
        return (f"{self.kind.upper()}: {self.ticker}: book {side(self.book, self.book_price)}, broker "
                f"{side(self.broker, self.broker_price)}")


def held_in_book(session: Session, after: dt.date) -> list[Position]:
    """Open positions expiring after `after` (an expiry that has come is the daily run's to settle)."""
    return list(session.scalars(select(Position).where(Position.status == PositionStatus.OPEN,
                                                       Position.expiry > after).order_by(Position.id)))


def differences(book: list[Position], broker: list[BrokerPosition], as_of: dt.date) -> list[Difference]:
    """Ticker by ticker, where the book and the broker disagree (the broker's puts expiring after `as_of`)."""
    ours: dict[str, tuple[int, int]] = {}
    for p in book:
        n, cents = ours.get(p.ticker, (0, 0))
        ours[p.ticker] = (n + p.contracts, cents + p.fill_cents * p.contracts)
    theirs: dict[str, tuple[int, float]] = {}
    for b in broker:
        contract = contract_of_occ(b.symbol)
        if contract.expiry > as_of:
            theirs[contract.ticker] = (-b.quantity, b.average_price)
    found = []
    for ticker in sorted(set(ours) | set(theirs)):
        n, cents = ours.get(ticker, (0, 0))
        m, price = theirs.get(ticker, (0, 0.0))
        mine = cents / n / 100 if n else None
        kind = ("missing" if not m else "extra" if not n else "quantity" if n != m else
                "price" if mine is not None and abs(mine - price) >= 0.005 else None)
        if kind is not None:
            found.append(Difference(kind, ticker, n, m, mine, price if m else None))
    return found


def adopt(session: Session, found: list[Difference], as_of: dt.date, parameters_id: int, quote: QuoteFn,
          fee: float) -> list[str]:
    """Take the broker's side of each difference; returns a line for each change. A put the broker no longer
    holds is closed at the day's mark (its real buy-back price is the broker's to tell: `fill --buy-back`); one
    it holds that the book lacks is opened at the broker's average price."""
    done = []
    for d in found:
        positions = [p for p in held_in_book(session, as_of) if p.ticker == d.ticker]
        if d.book > d.broker:
            excess = d.book - d.broker
            for position in positions:
                if excess <= 0:
                    break
                part = min(excess, position.contracts)
                piece = position if part == position.contracts else split_position(session, position, part)
                q = quote(parse_ticker(piece.ticker))
                close_by_exit(piece, as_of, Exit("closed at the broker", q, q.price,
                                                 buy_back_cost(q.price, part, fee)))
                piece.exit_fill_source = "adopted"
                excess -= part
                done.append(f"CLOSED: {piece.ticker} x{part} at the day's mark ${q.price:.2f} (the broker holds "
                            f"{d.broker})")
        elif d.broker > d.book and d.broker_price is not None:
            contract, part = parse_ticker(d.ticker), d.broker - d.book
            q = quote(contract)
            position = position_of_entry(Entry(contract, part, q, d.broker_price, fee * part), as_of,
                                         parameters_id)
            position.fill_source = "adopted"
            session.add(position)
            done.append(f"OPENED: {d.ticker} x{part} at the broker's ${d.broker_price:.2f}")
        elif d.kind == "price" and d.broker_price is not None:
            for position in positions:
                record_fill(session, position.id, d.broker_price).fill_source = "adopted"
            done.append(f"PRICE: {d.ticker} now ${d.broker_price:.2f}, the broker's average")
    session.flush()
    return done
