"""The Polygon cache in the database: each stored answer is its own small transaction, so a long fetch that
fails halfway keeps what it already had, and no entry is ever half-written."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from data.polygon import Bar
from data.polygon_source import CachedBars
from db.models import Base, PolygonBar, PolygonCoverage, PolygonListing
from db.session import transaction


class DbCache:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def load_bars(self) -> dict[str, CachedBars]:
        found: dict[str, CachedBars] = defaultdict(CachedBars)
        with transaction(self.factory) as session:
            for ticker, day, open_cents, close_cents in session.execute(
                    select(PolygonBar.ticker, PolygonBar.day, PolygonBar.open_cents, PolygonBar.close_cents)):
                found[ticker].bars[day] = Bar(day, open_cents / 100, close_cents / 100)
            for ticker, start, end in session.execute(
                    select(PolygonCoverage.ticker, PolygonCoverage.start, PolygonCoverage.end)):
                found[ticker].ranges.append((start, end))
        return dict(found)

    def load_listings(self) -> dict[tuple[str, dt.date, str], list[list[object]]]:
        with transaction(self.factory) as session:
            rows = session.execute(select(PolygonListing.kind, PolygonListing.as_of, PolygonListing.key,
                                          PolygonListing.items))
            return {(kind, as_of, key): items for kind, as_of, key, items in rows}

    def store_bars(self, ticker: str, start: dt.date, end: dt.date, bars: list[Bar]) -> None:
        """The bars of a fetched range, written over what a sibling process may have stored meanwhile."""
        rows = [{"ticker": ticker, "day": b.day, "open_cents": round(b.open * 100), "close_cents": round(b.close * 100)}
                for b in bars if start <= b.day <= end]
        with transaction(self.factory, write=True) as session:
            session.execute(delete(PolygonBar).where(PolygonBar.ticker == ticker, PolygonBar.day >= start,
                                                     PolygonBar.day <= end,
                                                     PolygonBar.day.not_in([r["day"] for r in rows])))
            if rows:
                upsert = _insert(session, PolygonBar)
                session.execute(upsert.on_conflict_do_update(
                    index_elements=["ticker", "day"],
                    set_={"open_cents": upsert.excluded.open_cents, "close_cents": upsert.excluded.close_cents}), rows)
            session.add(PolygonCoverage(ticker=ticker, start=start, end=end))

    def store_listing(self, kind: str, as_of: dt.date, key: str, items: list[list[object]]) -> None:
        """A listing, unless a sibling process stored the same one first (the answers are the same)."""
        with transaction(self.factory, write=True) as session:
            session.execute(_insert(session, PolygonListing).on_conflict_do_nothing(
                index_elements=["kind", "as_of", "key"]), [{"kind": kind, "as_of": as_of, "key": key, "items": items}])


def _insert(session: Session, model: type[Base]) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL both have it)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert(model)
