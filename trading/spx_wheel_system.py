"""The system's facade: what each command that prices or trades does, start to finish, as one call
(calibrate, backtest, fetch, quote, update, trade, replay, settle, check, fill). The command line parses, calls
one of these, renders; the commands that only look at the book call trading/ledger.py.

They take the environment mapping and the clock reading from the command line (which decides "today" once, in
New York) and pass dates down; nothing below reads either.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from sqlalchemy.orm import Session, sessionmaker

from backtest.decision import estimated_quote
from backtest.records import TradeRecord
from backtest.types import MarketDay
from data.calendar import is_session, last_calendar_day, nyse_sessions
from data.errors import BadInput, DataError
from data.market import MarketSource
from db.mapping import record_of_position
from db.models import Halt
from db.session import transaction
from trading.context import Context
from trading.history_updates import UpdateReport, update_history
from trading.ledger import active_parameters, required_parameters, resume, strategy_of
from trading.monitor import STOP, Performance, halt_if_stopped, peak_exposure, performance
from trading.optimizer import Calibration, horizon, run_grid, save_calibration
from trading.order_flow import OrderPlan
from trading.rules import listed_put
from trading.selection import SelectionCheck, check_selection, selection_summary
from trading.sources import chain_store_dir, free_daily_clients, window_dates
from trading.strategy import StrategyParams
from trading.trader import (
    DailyReport,
    ManualInputs,
    already_ran,
    plan_daily,
    record_fill,
    record_manual_settlement,
    run_daily,
    day_market,
    settlement_window_start,
)
from trading.validation import Validation, putwrite_against_published
from trading.walk_forward import WalkForward, folds, save_walk_forward, walk_forward

if TYPE_CHECKING:
    import pandas as pd

    from data.market import History
    from data.model_check import ModelCheck
    from db.models import ChainImport
    from trading.account import AccountView
    from trading.brokers.protocol import Broker
    from trading.chain_imports import ImportResult
    from trading.reconcile import Difference
    from trading.run_check import RunCheck



UPDATING_SOURCES = ("embedded", "chains", "cboe")  # priced over the local history, which `trade` updates first


def grid_over_window(ctx: Context, source: str, offline: bool, start: dt.date | None, end: dt.date | None,
                     combinations: Sequence[StrategyParams], objective: str, min_trades: int = 0,
                     progress: Callable[[int, int], None] = lambda done, total: None,
                     ) -> tuple[sessionmaker[Session], MarketSource, Calibration]:
    """The data phase and the grid, as calibrate, backtest and fetch need them: open the database, choose the
    window, prepare the source, then run the grid to the source's fixed point."""
    factory, market, start, end = _window(ctx, source, offline, start, end, combinations)
    calibration = market.resolve(lambda: run_grid(market, combinations, start, end, objective, min_trades,
                                                  progress))
    return factory, market, calibration


def _window(ctx: Context, source: str, offline: bool, start: dt.date | None, end: dt.date | None,
            combinations: Sequence[StrategyParams]) -> tuple[sessionmaker[Session], MarketSource, dt.date, dt.date]:
    """Open the database, choose the window and prepare the source for the combinations over it."""
    underlying = combinations[0].underlying  # not a grid dimension: the same for every combination
    if underlying == "XSP":
        refuse_xsp(source)
    factory = ctx.open()
    market = ctx.source(factory, source, offline, underlying)
    start, end = window_dates(market, start, end, ctx.today)
    market.prepare(start, end, horizon=horizon(combinations))
    return factory, market, start, end


@dataclass(frozen=True)
class Calibrated:
    """What calibrate did: the grid, the checks of its choice, the walk-forward when asked, and what was saved
    (the ids are None when no combination was eligible: nothing is saved then)."""

    calibration: Calibration
    check: SelectionCheck | None
    walk: WalkForward | None
    run_id: int | None
    params_id: int | None
    walk_run_id: int | None
    cleared: int  # trading halts the new parameters cleared


def calibrate(ctx: Context, source: str, offline: bool, start: dt.date | None, end: dt.date | None,
              combinations: Sequence[StrategyParams], objective: str, min_trades: int,
              progress: Callable[[int, int], None], walk: tuple[str, str, bool] | None = None,
              workers: int = 1) -> Calibrated:
    """Run the grid (in `workers` processes), check its choice and, when a combination is eligible, save it as
    the active parameters; with `walk` (TRAIN, TEST, anchored) also walk forward over the window and store each
    fold."""
    factory, market, start, end = _window(ctx, source, offline, start, end, combinations)
    if walk is not None:
        folds(start, end, *walk)  # a window too short is refused before anything runs
    calibration = market.resolve(lambda: run_grid(market, combinations, start, end, objective, min_trades,
                                                  progress, workers))
    if calibration.best is None:
        return Calibrated(calibration, None, None, None, None, None, 0)
    check = check_selection(calibration)
    walked = None if walk is None else market.resolve(
        lambda: walk_forward(market, combinations, start, end, *walk, objective, min_trades, progress, workers))
    with transaction(factory, write=True) as session:
        run, saved = save_calibration(session, calibration, "calibrate", ctx.today, ctx.now,
                                      {"selection": selection_summary(check)})
        walk_run = None if walked is None else save_walk_forward(session, walked, calibration, run.id, ctx.today,
                                                                        ctx.now)
        cleared = resume(session, ctx.now, "calibrate")
        assert saved is not None
        return Calibrated(calibration, check, walked, run.id, saved.id, walk_run.id if walk_run else None, cleared)


def backtest(ctx: Context, source: str, offline: bool, start: dt.date | None, end: dt.date | None,
             params: StrategyParams) -> tuple[Calibration, int]:
    """One combination, stored as a backtest run: (its calibration of one, the run id)."""
    factory, _, calibration = grid_over_window(ctx, source, offline, start, end, [params], "sharpe")
    with transaction(factory, write=True) as session:
        run, _ = save_calibration(session, calibration, "backtest", ctx.today, ctx.now)
        return calibration, run.id


def fetch(ctx: Context, start: dt.date | None, end: dt.date | None,
          combinations: Sequence[StrategyParams]) -> tuple[Calibration, int]:
    """Fill the Polygon cache with everything the window's grid needs: (the calibration, requests made)."""
    _, market, calibration = grid_over_window(ctx, "polygon", False, start, end, combinations, "sharpe")
    return calibration, market.requests_made()


def refuse_xsp(source: str) -> None:
    """XSP is priced on the embedded source (the estimate on SPX/10), on Polygon (its O:XSP bars) and on the XSP
    chains imported; the Cboe page source fetches SPX's page only."""
    if source == "cboe":
        raise BadInput("--source cboe fetches Cboe's SPX quotes only: XSP is priced on the embedded source (the "
                       "estimate on SPX/10), polygon, or the XSP chain files imported (chains)")


def quote(ctx: Context, source: str, offline: bool, day: dt.date, expiry: dt.date, strike: float,
          underlying: str = "SPX") -> dict[str, Any]:
    """A listed put's estimated premium, IV and delta at a day's close, with its real close where known."""
    if underlying == "XSP":
        refuse_xsp(source)
    if expiry <= day:
        raise BadInput(f"expiry {expiry} must be after the date {day}")
    if expiry > last_calendar_day():
        raise BadInput(f"expiry {expiry} is beyond the NYSE calendar ({last_calendar_day()})")
    factory = ctx.open()
    market = ctx.source(factory, source, offline, underlying)
    market.prepare(day - dt.timedelta(days=7), day, listings_from=day)
    history = market.history()
    i = history.index_of(day)
    contract = market.resolve(lambda: listed_put(market, day, expiry, strike, underlying))
    q = estimated_quote(MarketDay(day, float(history.spx_close[i]), float(history.vix[i]),
                                  float(history.vix3m[i]), float(history.rate[i])), contract)
    closes = market.resolve(lambda: market.option_closes(contract, (day,)))
    real_close = None if closes is None or math.isnan(closes[0]) else float(closes[0])
    document = {"ticker": contract.ticker, "date": day,
                "spot": float(history.spx_close[i]) * contract.underlying.scale,
                "vix": float(history.vix[i]), "premium": round(q.price, 4), "iv": round(q.iv, 6),
                "delta": round(-q.delta, 6), "source": "estimated", "real_close": real_close}
    from data.chain_source import ChainSource, chain_quote

    if isinstance(market, ChainSource):
        document.update(chain_quote(market, contract, day))
    return document


def import_chains(ctx: Context, paths: list[Path], progress: Callable[[str, int, int], None],
                  quote_date: dt.date | None = None) -> tuple[list[ImportResult], list[str]]:
    """Import chain files into the chain store: (the files imported or already held, a line for each refused)."""
    from trading.chain_imports import import_files

    return import_files(ctx.open(), chain_store_dir(ctx.db_url, ctx.environ), paths, ctx.now, progress, quote_date)


def stored_chains(ctx: Context) -> tuple[Path, list[ChainImport], int]:
    """The chain store's folder, the files imported into it, and the quote dates it holds."""
    from trading.chain_imports import committed_store, stored_imports

    folder, factory = chain_store_dir(ctx.db_url, ctx.environ), ctx.open()
    with transaction(factory) as session:
        imports = stored_imports(session)
        session.expunge_all()
    return folder, imports, len(committed_store(factory, folder).days())


def update(ctx: Context, progress: Callable[[str], None] = lambda name: None) -> UpdateReport:
    """Extend the local market history from the free daily files."""
    factory = ctx.open()
    return _update(ctx, factory, progress)


def _update(ctx: Context, factory: sessionmaker[Session], progress: Callable[[str], None]) -> UpdateReport:
    from data.free_daily import fetch_daily_files  # requests: only for the commands that go to the network

    cboe, fred = free_daily_clients(ctx.environ)
    files = fetch_daily_files(cboe, fred, progress)
    with transaction(factory, write=True) as session:
        return update_history(session, files, ctx.now)


def _refuse_future(ctx: Context, day: dt.date) -> None:
    if day > ctx.today:
        raise BadInput(f"{day} is after today ({ctx.today} in New York): a daily run acts for a day that has "
                       "happened")


@dataclass(frozen=True)
class BrokerChoice:
    """A daily run through a broker: which, how its orders are treated, and where their lines go."""

    name: str
    plan: OrderPlan
    say: Callable[[str], None]


def trade(ctx: Context, source: str, offline: bool, day: dt.date, manual: ManualInputs, dry_run: bool,
          update_first: bool, warn: Callable[[str], None], broker: BrokerChoice | None = None) -> DailyReport:
    """The daily run for `day`: settle, then open at most one position (a dry run writes nothing); through a
    broker, the decisions become orders (trading/order_flow.py)."""
    _refuse_future(ctx, day)
    factory = ctx.open()
    if update_first and source in UPDATING_SOURCES:
        try:
            _update(ctx, factory, lambda name: None)
        except (DataError, BadInput) as exc:
            warn(f"the update failed, trading on the local history as it is: {exc}")
    market = _live_source(ctx, factory, source, offline)
    if broker is None:
        return _trade_day(ctx, factory, market, day, manual, dry_run)
    return _broker_day(ctx, factory, market, day, manual, dry_run, broker)


def _broker_day(ctx: Context, factory: sessionmaker[Session], market: MarketSource, day: dt.date,
                manual: ManualInputs, dry_run: bool, choice: BrokerChoice) -> DailyReport:
    """The day through a broker; a dry run asks the broker for nothing but the previews of its orders."""
    import time

    from trading.brokers import make_broker
    from trading.order_flow import broker_day, preview_line, ticket_of

    if not is_session(day):
        return _trade_day(ctx, factory, market, day, manual, dry_run)
    with transaction(factory) as session:
        first, params = settlement_window_start(session, day), strategy_of(required_parameters(session))
    market.prepare(first, day, listings_from=day)
    if market.fetches:
        market.resolve(lambda: plan_daily(factory, market, day, ctx.now, manual, choice.name))
    broker = make_broker(choice.name, ctx, factory, day_market(market, day, manual), params)
    if not dry_run:
        return broker_day(factory, broker, market, day, ctx.now, manual, choice.plan, choice.say, time.sleep)
    report = plan_daily(factory, market, day, ctx.now, manual, choice.name)
    for order in report.orders:
        choice.say(preview_line(order, broker.preview(ticket_of(order))))
    return report


def _live_source(ctx: Context, factory: sessionmaker[Session], source: str, offline: bool) -> MarketSource:
    """The source of the daily run, listing the options of the active parameters' index."""
    with transaction(factory) as session:
        saved = active_parameters(session)
        underlying = "SPX" if saved is None else strategy_of(saved).underlying
    if underlying == "XSP":
        refuse_xsp(source)
    return ctx.source(factory, source, offline, underlying)


def _trade_day(ctx: Context, factory: sessionmaker[Session], market: MarketSource, day: dt.date,
               manual: ManualInputs, dry_run: bool) -> DailyReport:
    with transaction(factory) as session:  # a day already done is told without a write (a read-only database)
        done = already_ran(session, day)
        first = settlement_window_start(session, day)
    if done is not None:
        return done
    if is_session(day):  # a closed market is told without a request
        market.prepare(first, day, listings_from=day)
        if market.fetches:  # learn what the day needs, then fetch it
            market.resolve(lambda: plan_daily(factory, market, day, ctx.now, manual))
    if dry_run:
        return plan_daily(factory, market, day, ctx.now, manual)
    with transaction(factory, write=True) as session:
        return run_daily(session, market, day, ctx.now, manual)


def replay(ctx: Context, source: str, offline: bool, start: dt.date, end: dt.date,
           each: Callable[[DailyReport], None], broker: BrokerChoice | None = None) -> int:
    """The daily run for every NYSE session from start to end, in order, each its own transaction exactly as a
    separate `trade` would be (one process, so the data is loaded once). Returns the sessions run."""
    if start > end:
        raise BadInput(f"START {start} is after END {end}")
    _refuse_future(ctx, end)
    factory = ctx.open()
    market = _live_source(ctx, factory, source, offline)
    sessions = nyse_sessions(start, end)
    for day in sessions:
        each(_trade_day(ctx, factory, market, day, ManualInputs(), False) if broker is None else
             _broker_day(ctx, factory, market, day, ManualInputs(), False, broker))
    return len(sessions)


def settle(ctx: Context, expiry: dt.date, value: float) -> list[TradeRecord]:
    """Record a settlement value given by hand; returns the positions settled again at it."""
    if not is_session(expiry):
        raise BadInput(f"{expiry} is not an NYSE trading day, so no SPX option expires on it")
    if expiry > ctx.today:
        raise BadInput(f"{expiry} is after today ({ctx.today}): its settlement value is not known yet")
    with transaction(ctx.open(), write=True) as session:
        return [record_of_position(p) for p in record_manual_settlement(session, expiry, value, ctx.now)]


def check(ctx: Context, source: str, offline: bool, day: dt.date, min_trades: int,
          broker: str | None = None) -> tuple[Performance, Halt | None]:
    """Live results as of `day` against the active parameters' backtest, and the account (the broker's when one
    is given, else the book's); sets a halt on STOP TRADING."""
    _refuse_future(ctx, day)
    factory = ctx.open()
    market = ctx.source(factory, source, offline)
    market.prepare(day - dt.timedelta(days=7), day, listings_from=day + dt.timedelta(days=1))
    with transaction(factory) as session:
        saved = required_parameters(session)
        report = market.resolve(lambda: performance(session, market, day, saved, min_trades))
    if broker is not None:
        report = replace(report, account=broker_account(ctx, factory, market, day, broker))
    if report.status is not STOP or report.halt is not None:
        return report, None
    with transaction(factory, write=True) as session:  # only a STOP writes, so a read-only database serves check
        return report, halt_if_stopped(session, report, ctx.now)


def _broker(ctx: Context, factory: sessionmaker[Session], market: MarketSource, day: dt.date,
            name: str) -> tuple[Broker, StrategyParams]:
    """The broker, made on the source's last day at or before `day` (its quotes and settlements)."""
    from trading.brokers import make_broker

    with transaction(factory) as session:
        params = strategy_of(required_parameters(session))
    history = market.history()
    last = min(day, history.dates[-1])
    return make_broker(name, ctx, factory, day_market(market, last, ManualInputs()), params), params


def broker_account(ctx: Context, factory: sessionmaker[Session], market: MarketSource, day: dt.date,
                   name: str) -> AccountView:
    """The account as the broker reports it, with the notional of its SPX and XSP puts."""
    from trading.account import view
    from trading.brokers.symbols import contract_of_occ

    broker, params = _broker(ctx, factory, market, day, name)
    held = broker.positions()
    notional = sum(contract_of_occ(p.symbol).strike * 100 * abs(p.quantity) for p in held)
    with transaction(factory) as session:
        peak = peak_exposure(session, required_parameters(session))
    return view(name, params, broker.account(), notional, len(held), peak)


def account_of(ctx: Context, source: str, name: str) -> AccountView:
    """The broker's account today."""
    factory = ctx.open()
    market = _live_source(ctx, factory, source, False)
    market.prepare(ctx.today - dt.timedelta(days=7), ctx.today, listings_from=ctx.today)
    return broker_account(ctx, factory, market, ctx.today, name)


@dataclass(frozen=True)
class Reconciled:
    broker: str
    asked: int  # orders whose end the book did not know, asked first
    differences: list[Difference]
    adopted: list[str]
    agreeing: int  # positions both hold alike


def reconcile(ctx: Context, source: str, offline: bool, day: dt.date, name: str, adopt: bool) -> Reconciled:
    """Ask the broker about the book's unfinished orders, then compare positions; with `adopt`, take the
    broker's side of each difference (a line for each)."""
    from db.session import held_lock
    from trading.order_flow import sync
    from trading.reconcile import adopt as take, differences, held_in_book

    _refuse_future(ctx, day)
    factory = ctx.open()
    market = _live_source(ctx, factory, source, offline)
    market.prepare(day - dt.timedelta(days=7), day, listings_from=day)
    broker, params = _broker(ctx, factory, market, day, name)
    with held_lock(factory, "broker"):
        asked = sync(factory, broker, day, ctx.now)
        with transaction(factory) as session:
            book = held_in_book(session, day)
        found = differences(book, broker.positions(), day)
        done: list[str] = []
        if adopt and found:
            quote = day_market(market, min(day, market.history().dates[-1]), ManualInputs()).mark
            with transaction(factory, write=True) as session:
                done = take(session, found, day, required_parameters(session).id, quote, params.fee)
    return Reconciled(name, asked, found, done, len({p.ticker for p in book} - {d.ticker for d in found}))


def report(ctx: Context, run_id: int | None) -> tuple[str, int]:
    """A stored run's HTML report (the newest calibration or backtest when `run_id` is None): (the page, its id)."""
    from trading.report import load_report, render_report
    from trading.validation import published_put_returns

    with transaction(ctx.open()) as session:
        data = load_report(session, run_id, published_put_returns())
        return render_report(data), data.run.id


def live_report(ctx: Context) -> str:
    """The live book's HTML report."""
    from trading.live_report import load_live, render_live

    with transaction(ctx.open()) as session:
        return render_live(load_live(session))


def fill(ctx: Context, position_id: int, price: float, buy_back: bool = False, force: bool = False) -> TradeRecord:
    """Record the broker's fill of a position (or of its buy-back); returns it as it now stands."""
    with transaction(ctx.open(), write=True) as session:
        return record_of_position(record_fill(session, position_id, price, buy_back, force))


def validate(ctx: Context) -> Validation:
    """The engine as Cboe's PutWrite index over 1990-2021, against the published yearly returns."""
    return putwrite_against_published(ctx.source(ctx.open(), "embedded", False))


def model_check(ctx: Context, leave_one_day_out: bool) -> ModelCheck:
    """The option-price estimate against every real price at hand: the shipped chains and the Polygon cache."""
    from data.chain_files import read_chains
    from data.fit_vol_model import fit
    from data.model_check import ModelCheck, cached_closes, error_tables, premium_errors, seller_puts
    from data.model_check import leave_one_day_out as left_out
    from data.pricing import FITTED
    from db.cache import DbCache

    factory = ctx.open()
    history = ctx.source(factory, "embedded", False).history()
    shipped = seller_puts(read_chains(), history)
    bars = {ticker: {day: bar.close for day, bar in cached.bars.items()}
            for ticker, cached in DbCache(factory).load_bars().items() if not ticker.startswith("I:")}
    cached = seller_puts(cached_closes(bars), history) if bars else None
    imported = imported_seller_puts(ctx, history)
    return ModelCheck(
        FITTED, error_tables(shipped, premium_errors(shipped, FITTED)),
        error_tables(shipped, left_out(shipped, fit)) if leave_one_day_out else None,
        error_tables(cached, premium_errors(cached, FITTED)) if cached is not None and len(cached) else None,
        error_tables(imported, premium_errors(imported, FITTED)) if imported is not None else None)


def check_run_prices(ctx: Context, run_id: int) -> RunCheck:
    """A stored run's chosen combination re-priced on the real quotes of the chains imported."""
    from trading.chain_imports import committed_store
    from trading.run_check import check_run, stored_run

    factory = ctx.open()
    with transaction(factory) as session:
        run, chosen, trades = stored_run(session, run_id)
        session.expunge_all()
    store = committed_store(factory, chain_store_dir(ctx.db_url, ctx.environ))
    held = set(store.days())
    touched = {t.entry_date for t in trades} | {t.exit_date for t in trades if t.exit_date is not None}
    quotes = {}
    for day in sorted(touched & held):
        puts = store.puts(day, day, None, str(run.settings.get("underlying", "SPX"))).to_pandas()
        quotes.update({(q, r, e, float(k)): (float(b), float(a)) for q, r, e, k, b, a in zip(
            puts["quote_date"], puts["root"], puts["expiry"], puts["strike"], puts["bid"], puts["ask"],
            strict=True)})
    return check_run(run, chosen, trades, quotes, held)


def imported_seller_puts(ctx: Context, history: History) -> pd.DataFrame | None:
    """The seller's puts of every SPX chain imported (a day at a time: the store may hold years), labelled by
    year; None when the store holds none in the history's span. (The estimate is fitted and checked on SPX.)"""
    import pandas as pd

    from data.model_check import seller_puts
    from trading.chain_imports import committed_store

    found = []
    for chain in committed_store(ctx.open(), chain_store_dir(ctx.db_url, ctx.environ)).each_day():
        chain = chain[[d <= history.dates[-1] and root != "XSP" for d, root in zip(chain["quote_date"],
                                                                                chain["root"], strict=True)]]
        if len(chain):
            found.append(seller_puts(chain.assign(file=[f"imported {d.year}" for d in chain["quote_date"]]),
                                     history))
    puts = pd.concat(found, ignore_index=True) if found else None
    return puts if puts is not None and len(puts) else None
