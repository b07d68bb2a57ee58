"""A backtest whose trades are re-derived in the test from the raw history, with an independent pricer."""

import datetime as dt
import math

import numpy as np
import pytest

from backtest.metrics import max_drawdown, sortino
from backtest.spx_premium_backtest import run_backtest
from data.market import EmbeddedSource, load_bundled
from data.pricing import FITTED
from trading.rules import Rules
from trading.strategy import StrategyParams


def ncdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


# the S&P 500's dividend yield in January of the year (S&P Dow Jones Indices' dividends over the index level)
Q_BY_YEAR = {2019: 0.0205, 2020: 0.0180}


def independent_estimate(spot, strike, days, am, r, vix, vix3m, year):
    """The estimate (VIX/VIX3M term vol interpolated in total variance, a skew linear in log-moneyness, the T-bill
    rate) written out again with math only; the ATM level is the term vol less a proportional and a fixed part
    (data/pricing.py VolModel)."""
    t = (days - (6.5 / 24 if am else 0.0)) / 365
    t30, t93 = 30 / 365, 93 / 365
    v30 = vix / 100
    v93 = v30 if math.isnan(vix3m) else vix3m / 100
    tv = max(t, 1 / 365)  # the model's volatility takes T of at least one day
    tc = min(max(tv, t30), t93)
    term = math.sqrt((v30 ** 2 * t30 * (t93 - tc) + v93 ** 2 * t93 * (tc - t30)) / ((t93 - t30) * tc))
    q = Q_BY_YEAR[year]
    k = math.log(strike / (spot * math.exp((r - q) * tv)))
    psi = FITTED.psi_1m * (tv / t30) ** (-FITTED.alpha)
    atm = term * (1 - FITTED.premium) - FITTED.gap
    vol = max(atm - (psi if k < 0 else psi / 2) * k, 0.03)  # the model's floor
    d1 = (math.log(spot / strike) + (r - q + vol * vol / 2) * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    return strike * math.exp(-r * t) * ncdf(-d2) - spot * math.exp(-q * t) * ncdf(-d1)


CAPITAL = 1_000_000.0  # enough that March 2020 calls no margin: every trade here is held to expiry


@pytest.fixture(scope="module")
def result():
    params = StrategyParams(put_delta=0.20, dte_target=30, contracts_per_trade=2, capital=CAPITAL)
    held = run_backtest(EmbeddedSource(), Rules(params), dt.date(2019, 6, 1), dt.date(2020, 12, 31), params.capital)
    assert not [t for t in held.trades if t.exit_reason is not None]
    return held


def test_trades_are_repriced_independently(result):
    history = load_bundled()
    assert len(result.trades) > 20
    for trade in result.trades:
        i = history.index_of(trade.entry_date)
        spot = history.spx_close[i]
        target = spot * (1 - (0.04 + 0.20 * 0.15))
        assert abs(trade.strike - target) <= 2.5 and trade.strike % 5 == 0
        assert (trade.root == "SPX") == (trade.expiry.day in range(15, 22) and trade.expiry.weekday() in (3, 4))
        price = independent_estimate(spot, trade.strike, (trade.expiry - trade.entry_date).days, trade.root == "SPX",
                                     history.rate[i], history.vix[i], history.vix3m[i], trade.entry_date.year)
        assert trade.entry_price == pytest.approx(price, rel=1e-9)
        net = price - max(0.05 * price, 0.05)
        tick = 0.05 if net < 3 else 0.10  # SPX's grid: down to the tick
        fill = math.floor(net / tick + 1e-9) * tick
        assert trade.fill == pytest.approx(fill)
        assert trade.premium == pytest.approx(fill * 100 * trade.contracts - 1.50 * trade.contracts)
        if trade.pnl is not None:
            j = history.index_of(trade.expiry)
            settle = history.spx_open[j] if trade.root == "SPX" else history.spx_close[j]
            assert trade.settlement == settle
            loss = max(trade.strike - settle, 0) * 100 * trade.contracts
            assert trade.pnl == pytest.approx(trade.premium - loss, abs=0.005)


def test_march_2020_loses(result):
    march = [t for t in result.trades if t.expiry.year == 2020 and t.expiry.month in (3, 4) and t.pnl is not None]
    assert any(t.pnl < 0 for t in march)


def test_equity_curve_rebuilt_from_cash_interest_and_independent_marks(result):
    history = load_bundled()
    first, stop = history.window(result.start, result.end)
    cash, rebuilt = CAPITAL, []
    for i in range(first, stop):
        day = history.dates[i]
        if i > first:
            cash *= math.exp(history.rate[i - 1] * (day - history.dates[i - 1]).days / 365)
        cash -= sum(t.premium - t.pnl for t in result.closed if t.expiry == day)
        cash += sum(t.premium for t in result.trades if t.entry_date == day)
        owed = sum(independent_estimate(history.spx_close[i], t.strike, (t.expiry - day).days, t.root == "SPX",
                                        history.rate[i], history.vix[i], history.vix3m[i], day.year) * 100 * t.contracts
                   for t in result.trades if t.entry_date <= day < t.expiry)
        rebuilt.append(cash - owed)
    assert np.allclose(result.equity, rebuilt, rtol=0, atol=0.01)
    curve = np.concatenate([[CAPITAL], rebuilt])
    peak, worst = curve[0], 0.0
    for value in curve:
        peak = max(peak, value)
        worst = max(worst, 1 - value / peak)
    assert result.metrics.max_drawdown == pytest.approx(worst)
    assert max_drawdown(np.array([100.0, 120.0, 90.0, 130.0, 117.0])) == pytest.approx(0.25)
    wins = sum(1 for t in result.closed if t.pnl > 0)
    assert result.metrics.win_rate == pytest.approx(wins / len(result.closed))
    assert result.metrics.total_return == pytest.approx(rebuilt[-1] / CAPITAL - 1)


def test_sortino_counts_every_period_in_the_downside_deviation():
    returns = np.array([0.02, -0.01, 0.03, -0.02])
    downside = math.sqrt((0.01 ** 2 + 0.02 ** 2) / 4)
    assert sortino(returns, np.zeros(4)) == pytest.approx(np.mean(returns) / downside * math.sqrt(252))


def test_at_most_max_open_and_one_position_per_expiry(result):
    for day in result.dates[::5]:
        live = [t for t in result.trades if t.entry_date <= day and (t.pnl is None or t.expiry > day)]
        assert len(live) <= 3
        assert len({t.expiry for t in live}) == len(live)


def buy_price(price, slippage=0.05):
    """By hand: a buy at the close pays the price plus 5% of it (at least $0.05), up to SPX's tick ($0.05 below $3,
    $0.10 from $3)."""
    paid = price + max(price * slippage, 0.05)
    step = 0.05 if paid < 3 else 0.10
    return round(math.ceil(round(paid / step, 6)) * step, 2)


def marks_after_entry(history, trade):
    """The put's independent estimate on each session after the entry, before expiry."""
    days = [d for d in history.dates if trade.entry_date < d < trade.expiry]
    return days, [independent_estimate(history.spx_close[history.index_of(d)], trade.strike, (trade.expiry - d).days,
                                       trade.root == "SPX", history.rate[history.index_of(d)],
                                       history.vix[history.index_of(d)], history.vix3m[history.index_of(d)], d.year)
                  for d in days]


def test_take_profit_buys_back_the_first_day_the_mark_is_half_the_fill():
    """Checked against the independent pricer day by day: the day, the price paid and the P&L of each exit."""
    start, end = dt.date(2019, 1, 2), dt.date(2019, 12, 31)
    held = run_backtest(EmbeddedSource(), Rules(StrategyParams(put_delta=0.20, dte_target=45)), start, end, 500_000)
    params = StrategyParams(put_delta=0.20, dte_target=45, take_profit=0.5)
    early = run_backtest(EmbeddedSource(), Rules(params), start, end, params.capital)
    history = load_bundled()
    exited = [t for t in early.trades if (t.settlement_source, t.exit_reason) == ("exit", "take profit 50%")]
    assert len(exited) >= 5 and len(early.trades) > len(held.trades)  # capital freed earlier is used again
    assert early.tally.buy_backs == len(exited) and all(t.exit_source == "estimated" for t in exited)
    for trade in exited:
        days, marks = marks_after_entry(history, trade)
        first_low = next(m for m in marks if m <= 0.5 * trade.fill)  # the first day the rule fires
        assert trade.exit_price == pytest.approx(first_low, abs=0.005)
        assert trade.exit_fill == buy_price(trade.exit_price)
        cost = round(trade.exit_fill * 100 * trade.contracts + 1.5 * trade.contracts, 2)
        assert trade.pnl == pytest.approx(trade.premium - cost, abs=0.011) and trade.won


def test_stop_loss_and_close_dte_exit_as_their_rules_say_in_2020():
    """A stop at 2x the fill fires in the March 2020 crash, on the first day the mark reaches twice the fill;
    closing 7 days before expiry leaves no position to settle later than that."""
    start, end = dt.date(2020, 1, 2), dt.date(2020, 12, 31)
    history = load_bundled()
    stopped = run_backtest(EmbeddedSource(), Rules(StrategyParams(put_delta=0.2, dte_target=30, stop_loss=2)),
                           start, end, 500_000)
    stops = [t for t in stopped.trades if t.exit_reason == "stop loss 2x"]
    assert stops and any(dt.date(2020, 2, 20) <= t.expiry <= dt.date(2020, 4, 30) for t in stops)
    for trade in stops:
        days, marks = marks_after_entry(history, trade)
        assert trade.exit_price == pytest.approx(next(m for m in marks if m >= 2 * trade.fill), abs=0.005)
        assert not trade.won
    closing = run_backtest(EmbeddedSource(), Rules(StrategyParams(put_delta=0.2, dte_target=30, close_dte=7)),
                           start, end, 500_000)
    assert len(closing.closed) > 5
    assert all(t.settlement_source == "exit" and t.exit_reason == "7 days to expiry" for t in closing.closed)
    for trade in closing.closed:  # bought back on the first session at most 7 calendar days before expiry
        days, marks = marks_after_entry(history, trade)
        day = next(d for d in days if (trade.expiry - d).days <= 7)
        assert trade.exit_price == pytest.approx(marks[days.index(day)], abs=0.005)


def test_margin_calls_keep_equity_above_zero_in_2020():
    """20 contracts with all equity committed: without re-marking, equity went below zero in March 2020 while the
    run still reported a profit; with it, the engine buys back in the crash and equity never crosses zero."""
    params = StrategyParams(put_delta=0.2, dte_target=30, contracts_per_trade=20, max_margin_pct=1.0)
    result = run_backtest(EmbeddedSource(), Rules(params), dt.date(2019, 1, 2), dt.date(2021, 12, 31), params.capital)
    calls = [t for t in result.trades if t.exit_reason == "margin call"]
    assert result.ruined is None and float(result.equity.min()) > 0
    assert any(dt.date(2020, 2, 20) <= t.expiry and t.entry_date <= dt.date(2020, 3, 20) for t in calls)
    assert all(t.pnl is not None and t.settlement is None for t in calls)


def crash_source(level=2400.0):
    """SPX flat at 4000 (VIX 15) for a month, then at `level` (VIX 60) from 2023-02-06 on: a gap no margin
    re-marked the evening before can hold when it is deep enough."""
    from data.calendar import nyse_sessions
    from data.market import History

    days = nyse_sessions(dt.date(2023, 1, 3), dt.date(2023, 3, 31))
    crash = days.index(dt.date(2023, 2, 6))
    spx = np.array([4000.0 if i < crash else level for i in range(len(days))])
    vix = np.array([15.0 if i < crash else 60.0 for i in range(len(days))])
    return EmbeddedSource(History(tuple(days), spx, spx, vix, np.full(len(days), np.nan), np.full(len(days), 0.04))), \
        days[crash]


def test_ruin_stops_the_run_at_minus_100_percent_and_is_never_chosen():
    from trading.optimizer import run_grid

    source, crash = crash_source()
    base = StrategyParams(put_delta=0.5, dte_target=30, contracts_per_trade=60, max_margin_pct=1.0, max_vix=100)
    result = run_backtest(source, Rules(base), dt.date(2023, 1, 3), dt.date(2023, 3, 31), base.capital)
    assert result.ruined == crash and result.dates[-1] == crash and result.equity[-1] == 0
    assert result.metrics.total_return == -1.0 and result.metrics.cagr == -1.0 and result.metrics.max_drawdown == 1.0
    assert float(result.equity.min()) >= 0
    # a 16% gap: the nearer strikes (seed delta 0.05: 4.75% out) ruin the account, the farther (0.9) do not
    source, _ = crash_source(3360.0)
    grid = [StrategyParams(put_delta=d, dte_target=30, contracts_per_trade=60, max_margin_pct=1.0, max_vix=100)
            for d in (0.05, 0.9)]
    calibration = run_grid(source, grid, dt.date(2023, 1, 3), dt.date(2023, 3, 31), "return")
    ruined = {c.params.put_delta: c.result.ruined is not None for c in calibration.combinations}
    assert ruined == {0.05: True, 0.9: False}
    assert calibration.best_combination.params.put_delta == 0.9


def test_am_settlements_on_stale_opens_use_the_previous_close_and_are_counted():
    """Before 2008 and in 2011-2013 the bundled open is in effect the previous close (data/raw/SOURCES.md): such
    AM settlements are stand-ins, made at the previous close, counted; elsewhere they settle at the real open."""
    import csv
    import gzip

    from data.market import HISTORY_FILE

    with gzip.open(HISTORY_FILE, "rt") as handle:  # the raw file, read here independently of the loader
        rows = list(csv.DictReader(handle))
    by_day = {dt.date.fromisoformat(r["date"]): i for i, r in enumerate(rows)}
    params = StrategyParams(put_delta=0.2, dte_target=30, expiries="monthly")
    result = run_backtest(EmbeddedSource(), Rules(params), dt.date(1990, 1, 2), dt.date(2026, 7, 10), params.capital,
                          monthly_only=True)
    settled = [t for t in result.trades if t.settlement is not None]
    assert {t.root for t in settled} == {"SPX"}
    stale = [t for t in settled if t.expiry.year < 2008 or 2011 <= t.expiry.year <= 2013]
    assert len(stale) > 200 and result.stand_in_settlements == len(stale)
    for trade in settled:
        i = by_day[trade.expiry]
        if trade in stale:
            assert trade.settlement_source == "stand-in" and trade.settlement == float(rows[i - 1]["spx_close"])
        else:
            assert trade.settlement_source == "real" and trade.settlement == float(rows[i]["spx_open"])


def test_sizing_by_notional_keeps_each_position_within_the_target_and_exposure_is_reported():
    """--size-by notional 1.0 in 1995-1996: each entry sells as many contracts as keep 100 x strike x contracts
    within equity; the reported exposure is the open puts' notional over equity, recomputed here day by day."""
    params = StrategyParams(put_delta=0.2, dte_target=30, size_by="notional", size_target=1.0, max_margin_pct=1.0)
    result = run_backtest(EmbeddedSource(), Rules(params), dt.date(1995, 1, 3), dt.date(1996, 12, 31), params.capital)
    index = {d: i for i, d in enumerate(result.dates)}
    assert len(result.trades) > 20 and max(t.contracts for t in result.trades) > 5
    for trade in result.trades:
        equity = result.equity[index[trade.entry_date]]
        assert trade.strike * 100 * trade.contracts <= equity * 1.001  # within the target (slippage aside)
        assert trade.strike * 100 * (trade.contracts + 1) > equity * 0.99 or trade.contracts == 0
    shares = []
    for i, day in enumerate(result.dates):
        notional = sum(t.strike * 100 * t.contracts for t in result.trades if t.entry_date <= day < t.expiry)
        if notional:
            shares.append(notional / result.equity[i])
    assert result.exposure[0] == pytest.approx(sum(shares) / len(result.dates))
    assert result.exposure[1] == pytest.approx(max(shares))
    fixed = run_backtest(EmbeddedSource(), Rules(StrategyParams(put_delta=0.2, dte_target=30)), dt.date(1995, 1, 3),
                         dt.date(1996, 12, 31), params.capital)
    assert fixed.exposure[0] < 0.2 < 1.0 < result.exposure[0]  # one contract was a small bet in the 1990s
