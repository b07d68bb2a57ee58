"""Typed SQLAlchemy models. Money and price levels are integer cents; analytics are floats (NULL for NaN)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from data.provenance import Named


class Base(DeclarativeBase):
    pass


class PositionStatus(Named):
    OPEN = "open"
    CLOSED = "closed"


class CalibrationRun(Base):
    """One `calibrate` (or `backtest`) invocation: the window, the source and every setting."""

    __tablename__ = "calibration_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    calibration_date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # 'calibrate' or 'backtest'
    window_start: Mapped[dt.date] = mapped_column(Date)
    window_end: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16))
    objective: Mapped[str] = mapped_column(String(16))
    settings: Mapped[dict[str, object]] = mapped_column(JSON)
    results: Mapped[list[CombinationResult]] = relationship(back_populates="run", order_by="CombinationResult.id")


class CombinationResult(Base):
    """The metrics of one delta x DTE combination of a run."""

    __tablename__ = "combination_results"
    __table_args__ = (UniqueConstraint("run_id", "put_delta", "dte_target", "take_profit", "stop_loss", "close_dte",
                                       name="uq_combination_results_combination"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("calibration_runs.id", ondelete="CASCADE"), index=True)
    put_delta: Mapped[float] = mapped_column(Float)
    dte_target: Mapped[int] = mapped_column(Integer)
    take_profit: Mapped[float] = mapped_column(Float, default=0.0)  # 0: off
    stop_loss: Mapped[float] = mapped_column(Float, default=0.0)
    close_dte: Mapped[int] = mapped_column(Integer, default=0)
    trades: Mapped[int] = mapped_column(Integer)
    wins: Mapped[int] = mapped_column(Integer)
    win_rate: Mapped[float | None] = mapped_column(Float)
    total_return: Mapped[float] = mapped_column(Float)
    cagr: Mapped[float | None] = mapped_column(Float)
    max_drawdown: Mapped[float] = mapped_column(Float)
    sharpe: Mapped[float | None] = mapped_column(Float)
    sortino: Mapped[float | None] = mapped_column(Float)
    calmar: Mapped[float | None] = mapped_column(Float)
    real: Mapped[int] = mapped_column(Integer)
    estimated: Mapped[int] = mapped_column(Integer)
    best: Mapped[bool] = mapped_column(default=False)
    ruined: Mapped[dt.date | None] = mapped_column(Date)  # the day equity reached zero: the run stopped there
    deficit_cents: Mapped[int] = mapped_column(Integer, default=0)  # what the account owed on that day
    peak_exposure: Mapped[float | None] = mapped_column(Float)  # the most notional it carried, a share of equity
    run: Mapped[CalibrationRun] = relationship(back_populates="results")


class BacktestTrade(Base):
    """Every trade of every combination, with its exact ticker: the audit trail of a calibration."""

    __tablename__ = "backtest_trades"

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("combination_results.id", ondelete="CASCADE"), index=True)
    ticker: Mapped[str] = mapped_column(String(32))
    root: Mapped[str] = mapped_column(String(8))
    entry_date: Mapped[dt.date] = mapped_column(Date)
    expiry: Mapped[dt.date] = mapped_column(Date)
    strike_cents: Mapped[int] = mapped_column(Integer)
    contracts: Mapped[int] = mapped_column(Integer)
    entry_price_cents: Mapped[int] = mapped_column(Integer)
    fill_cents: Mapped[int] = mapped_column(Integer)
    premium_cents: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    entry_delta: Mapped[float] = mapped_column(Float)
    settlement_cents: Mapped[int | None] = mapped_column(Integer)
    settlement_source: Mapped[str | None] = mapped_column(String(16))  # real / stand-in / exit
    pnl_cents: Mapped[int | None] = mapped_column(Integer)
    exit_reason: Mapped[str | None] = mapped_column(String(32))  # for a put bought back before expiry
    exit_date: Mapped[dt.date | None] = mapped_column(Date)
    exit_fill_cents: Mapped[int | None] = mapped_column(Integer)  # per share, spread included
    exit_source: Mapped[str | None] = mapped_column(String(16))  # real / estimated: the buy-back price's


class WheelParameters(Base):
    """A saved parameter set; the newest is the active one, older ones stay for the record."""

    __tablename__ = "wheel_parameters"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    calibration_date: Mapped[dt.date] = mapped_column(Date)
    run_id: Mapped[int] = mapped_column(ForeignKey("calibration_runs.id"))
    result_id: Mapped[int] = mapped_column(ForeignKey("combination_results.id"))
    strategy: Mapped[dict[str, Any]] = mapped_column(JSON)  # StrategyParams.stored()
    backtest_trades: Mapped[int] = mapped_column(Integer)
    backtest_win_rate: Mapped[float | None] = mapped_column(Float)
    backtest_total_return: Mapped[float] = mapped_column(Float)
    backtest_max_drawdown: Mapped[float] = mapped_column(Float)
    backtest_sharpe: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))
    window_start: Mapped[dt.date] = mapped_column(Date)
    window_end: Mapped[dt.date] = mapped_column(Date)
    objective: Mapped[str] = mapped_column(String(16))


class Position(Base):
    """A live position opened by `trade`: its exact contract, the price it was sold at and its settlement."""

    __tablename__ = "positions"

    id: Mapped[int] = mapped_column(primary_key=True)
    opened_on: Mapped[dt.date] = mapped_column(Date, index=True)
    parameters_id: Mapped[int] = mapped_column(ForeignKey("wheel_parameters.id"))
    ticker: Mapped[str] = mapped_column(String(32))
    root: Mapped[str] = mapped_column(String(8))
    expiry: Mapped[dt.date] = mapped_column(Date, index=True)
    strike_cents: Mapped[int] = mapped_column(Integer)
    contracts: Mapped[int] = mapped_column(Integer)
    price_cents: Mapped[int] = mapped_column(Integer)  # the put's price at entry, before slippage
    price_source: Mapped[str] = mapped_column(String(16))  # real / estimated / manual
    fill_cents: Mapped[int] = mapped_column(Integer)  # per share; `fill` replaces it with the broker's fill
    fill_source: Mapped[str] = mapped_column(String(16))  # model (price less slippage) / broker
    fees_cents: Mapped[int] = mapped_column(Integer)
    premium_cents: Mapped[int] = mapped_column(Integer)  # net cash received
    entry_delta: Mapped[float] = mapped_column(Float)
    entry_iv: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(8), index=True)  # open / closed
    settled_on: Mapped[dt.date | None] = mapped_column(Date)
    settlement_cents: Mapped[int | None] = mapped_column(Integer)
    settlement_source: Mapped[str | None] = mapped_column(String(16))  # real / stand-in / manual / exit
    pnl_cents: Mapped[int | None] = mapped_column(Integer)
    exit_reason: Mapped[str | None] = mapped_column(String(32))  # take profit 50%, margin call, ...
    exit_price_cents: Mapped[int | None] = mapped_column(Integer)  # the put's price on the buy-back day
    exit_price_source: Mapped[str | None] = mapped_column(String(16))  # real / estimated
    exit_fill_cents: Mapped[int | None] = mapped_column(Integer)  # per share paid; `fill --buy-back` replaces it
    exit_fill_source: Mapped[str | None] = mapped_column(String(16))  # model / broker
    exit_fees_cents: Mapped[int | None] = mapped_column(Integer)


class DailyRun(Base):
    """One row per `trade` run that committed: the day, what happened and why."""

    __tablename__ = "daily_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date, unique=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(16))  # opened / skipped / closed-market / halted
    message: Mapped[str] = mapped_column(String(500))
    settled: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)  # positions bought back by an exit rule or margin call
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id"))
    parameters_id: Mapped[int | None] = mapped_column(ForeignKey("wheel_parameters.id"))


class Halt(Base):
    """A stop set by `check` when live results diverge too far; cleared by a calibration or `resume`."""

    __tablename__ = "halts"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    as_of: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500))
    cleared_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cleared_by: Mapped[str | None] = mapped_column(String(16))


class WalkForwardFold(Base):
    """One fold of a walk-forward calibration: the winner of its training window and how it did on the test
    window that followed (the metrics as `--json` shows them)."""

    __tablename__ = "walk_forward_folds"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("calibration_runs.id", ondelete="CASCADE"), index=True)
    fold: Mapped[int] = mapped_column(Integer)
    train_start: Mapped[dt.date] = mapped_column(Date)
    train_end: Mapped[dt.date] = mapped_column(Date)
    test_start: Mapped[dt.date] = mapped_column(Date)
    test_end: Mapped[dt.date] = mapped_column(Date)
    strategy: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the winner; NULL when none was eligible
    in_sample: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    out_of_sample: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class MarketUpdate(Base):
    """A session after the bundled history, from the free daily files (`spx-wheel update`): closes only."""

    __tablename__ = "market_updates"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    spx_close_cents: Mapped[int] = mapped_column(Integer)
    vix: Mapped[float] = mapped_column(Float)
    vix3m: Mapped[float | None] = mapped_column(Float)  # NULL where Cboe has none
    rate: Mapped[float] = mapped_column(Float)  # continuous annual
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class SettlementValue(Base):
    """A settlement value given by hand (`spx-wheel settle`): the SPX special opening quotation of an AM expiry
    or the close of a PM one, as the user read it from the broker or Cboe."""

    __tablename__ = "settlement_values"

    expiry: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    value_cents: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # manual
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Lock(Base):
    """Rows that writers update first, so that two runs of one command take turns (SQLite and PostgreSQL)."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    acquired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PolygonBar(Base):
    """A cached Polygon day bar (open and close, in cents)."""

    __tablename__ = "polygon_bars"
    __table_args__ = (UniqueConstraint("ticker", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticker: Mapped[str] = mapped_column(String(32), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    open_cents: Mapped[int] = mapped_column(Integer)
    close_cents: Mapped[int] = mapped_column(Integer)


class PolygonCoverage(Base):
    """A date range whose bars were fetched for a ticker: a session inside it without a bar had none."""

    __tablename__ = "polygon_coverage"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticker: Mapped[str] = mapped_column(String(32), index=True)
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[dt.date] = mapped_column(Date)


class PolygonListing(Base):
    """A cached contracts-reference answer: the expirations, or one expiration's strikes, listed as of a day."""

    __tablename__ = "polygon_listings"
    __table_args__ = (UniqueConstraint("kind", "as_of", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # expiries / strikes
    as_of: Mapped[dt.date] = mapped_column(Date)
    key: Mapped[str] = mapped_column(String(16))  # the expiration for strikes, '' for expiries
    items: Mapped[list[list[object]]] = mapped_column(JSON)


class ChainImport(Base):
    """A chain file imported into the chain store (data/chain_store.py), known by the hash of its bytes: the same
    file again imports nothing."""

    __tablename__ = "chain_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    file: Mapped[str] = mapped_column(String(500))  # the name it was imported from
    layout: Mapped[str] = mapped_column(String(32))
    rows: Mapped[int] = mapped_column(Integer)
    days: Mapped[int] = mapped_column(Integer)
    expiries: Mapped[int] = mapped_column(Integer)
    first_day: Mapped[dt.date] = mapped_column(Date)
    last_day: Mapped[dt.date] = mapped_column(Date)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Order(Base):
    """An order the daily run decided, recorded before anything is sent: its client id (the day and the decision)
    makes a second send impossible, and its status follows the broker's answers (each change an OrderEvent)."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    broker: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[dt.date] = mapped_column(Date, index=True)
    action: Mapped[str] = mapped_column(String(16))  # sell to open / buy to close
    ticker: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    limit_cents: Mapped[int] = mapped_column(Integer)  # the limit now (repriced in place)
    far_cents: Mapped[int | None] = mapped_column(Integer)  # the side the walk never passes: the day's bid for a
    # sale, its ask for a buy-back; NULL on an estimated price (the walk is bounded by the user's reprices alone)
    time_in_force: Mapped[str] = mapped_column(String(8))  # day / gtc
    status: Mapped[str] = mapped_column(String(16), index=True)  # recorded / working / filled / cancelled / ...
    broker_order_id: Mapped[str | None] = mapped_column(String(64))
    filled: Mapped[int] = mapped_column(Integer, default=0)
    fill_cents: Mapped[int | None] = mapped_column(Integer)  # average per share
    fees_cents: Mapped[int] = mapped_column(Integer)  # the preview's (else the fee model's) for the whole order
    reprices: Mapped[int] = mapped_column(Integer, default=0)
    # what the book needs once the broker fills it: the day's quote, and for a sale the rules' reading of the put
    price_cents: Mapped[int] = mapped_column(Integer)
    price_source: Mapped[str] = mapped_column(String(16))
    entry_delta: Mapped[float | None] = mapped_column(Float)
    entry_iv: Mapped[float | None] = mapped_column(Float)
    parameters_id: Mapped[int | None] = mapped_column(ForeignKey("wheel_parameters.id"))
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id"))  # opened by it, or to close
    exit_reason: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(500))  # why it was refused or rejected
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class OrderEvent(Base):
    """One change of an order's status, as it happened."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    limit_cents: Mapped[int] = mapped_column(Integer)
    filled: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(String(500))


class PaperOrder(Base):
    """The paper broker's side of an order: kept apart from the book, as a real broker's would be, so that
    `reconcile` compares two records."""

    __tablename__ = "paper_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)  # not unique: a broker takes a second send
    placed_on: Mapped[dt.date] = mapped_column(Date)
    symbol: Mapped[str] = mapped_column(String(32))  # OCC
    action: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)
    limit_cents: Mapped[int] = mapped_column(Integer)
    time_in_force: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    filled: Mapped[int] = mapped_column(Integer, default=0)
    fill_cents: Mapped[int | None] = mapped_column(Integer)
    filled_on: Mapped[dt.date | None] = mapped_column(Date)
    fees_cents: Mapped[int] = mapped_column(Integer, default=0)
