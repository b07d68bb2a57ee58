"""Typed SQLAlchemy models. Money and price levels are integer cents; analytics are floats (NULL for NaN)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


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
    __table_args__ = (UniqueConstraint("run_id", "put_delta", "dte_target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("calibration_runs.id", ondelete="CASCADE"), index=True)
    put_delta: Mapped[float] = mapped_column(Float)
    dte_target: Mapped[int] = mapped_column(Integer)
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
    pnl_cents: Mapped[int | None] = mapped_column(Integer)


class WheelParameters(Base):
    """A saved parameter set; the newest is the active one, older ones stay for the record."""

    __tablename__ = "wheel_parameters"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    calibration_date: Mapped[dt.date] = mapped_column(Date)
    run_id: Mapped[int] = mapped_column(ForeignKey("calibration_runs.id"))
    result_id: Mapped[int] = mapped_column(ForeignKey("combination_results.id"))
    put_delta: Mapped[float] = mapped_column(Float)
    dte_target: Mapped[int] = mapped_column(Integer)
    strike_rule: Mapped[str] = mapped_column(String(16))
    expiries: Mapped[str] = mapped_column(String(16))
    margin: Mapped[str] = mapped_column(String(16))
    capital_cents: Mapped[int] = mapped_column(Integer)
    contracts_per_trade: Mapped[int] = mapped_column(Integer)
    max_open_positions: Mapped[int] = mapped_column(Integer)
    max_margin_pct: Mapped[float] = mapped_column(Float)
    min_vix: Mapped[float] = mapped_column(Float)
    max_vix: Mapped[float] = mapped_column(Float)
    slippage: Mapped[float] = mapped_column(Float)
    fee_cents: Mapped[int] = mapped_column(Integer)
    backtest_trades: Mapped[int] = mapped_column(Integer)
    backtest_win_rate: Mapped[float | None] = mapped_column(Float)
    backtest_total_return: Mapped[float] = mapped_column(Float)
    backtest_max_drawdown: Mapped[float] = mapped_column(Float)
    backtest_sharpe: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))
    window_start: Mapped[dt.date] = mapped_column(Date)
    window_end: Mapped[dt.date] = mapped_column(Date)
    objective: Mapped[str] = mapped_column(String(16))
