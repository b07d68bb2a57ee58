"""The strategy rules, pure and shared by the backtest engine, the grid kernel and the daily trader.

No clock, no I/O, no environment: every input is an argument.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from backtest.types import (
    HOLD,
    Entry,
    Exit,
    Hold,
    Holding,
    Listed,
    ListingSource,
    MarketDay,
    Quote,
    QuoteFn,
    Skip,
    Strikes,
    net_premium,
)
from data.contracts import UNDERLYINGS, OptionContract, Underlying, put_contract, settles_am
from data.dividends import dividend_yield
from data.pricing import Num, skew_strike_for_put_delta, years_to_settlement
from trading.choices import spread_given_up
from trading.strategy import StrategyError, StrategyParams

MIN_HAIRCUT = 0.05  # SPX's tick below $3; an XSP fill gives up at least its cent
MARGIN_CALL = "margin call"  # the reason a buy-back forced by margin gives


def seed_strike(spot: Num, put_delta: float, step: float = UNDERLYINGS["SPX"].strike_step) -> Num:
    """The user's formula: spot - spot * (0.04 + put_delta * 0.15), to the nearest strike step (5 for SPX), a
    tie to the lower. `spot` a level or an array of them (the grid engine's every session at once)."""
    target = np.asarray(spot, dtype=float) - np.asarray(spot, dtype=float) * (0.04 + put_delta * 0.15)
    return (np.ceil(np.round(target / step - 0.5, 9)) * step)[()]


def atm_strike(spot: Num, step: float) -> Num:
    """As Cboe's PutWrite index: the strike closest to, not above, the index (a level or an array)."""
    return (np.floor(np.asarray(spot, dtype=float) / step + 1e-9) * step)[()]


def grid_strike(rule: str, put_delta: float, step: float, spot: Num, t: Num, rate: Num, q: Num, vix: Num,
                vix3m: Num) -> Num:
    """The strike rule's choice on the strike grid (before any listing is asked): seed, atm, or bs-delta, the
    strike whose delta under the estimated skew is -put_delta, to the nearest step. On one day or on arrays of
    days (the grid engine's); `t`, `rate`, `q`, `vix`, `vix3m` matter to bs-delta alone."""
    if rule == "seed":
        return seed_strike(spot, put_delta, step)
    if rule == "atm":
        return atm_strike(spot, step)
    target = skew_strike_for_put_delta(spot, put_delta, t, rate, q, vix, vix3m)
    return (np.floor(target / step + 0.5) * step)[()]


def snap_down(target: float, listed: Strikes) -> float | None:
    """The nearest listed strike at or below the target (None when every listed strike is above it)."""
    position = bisect_right(listed, target + 1e-9)
    return listed[position - 1] if position else None


def listed_put(source: ListingSource, day: dt.date, expiry: dt.date, strike: float,
               underlying: str = "SPX") -> OptionContract:
    """The put of that expiration and strike if the source listed it on `day` (StrategyError otherwise): the
    same listings the backtest chooses from, with the strike grid (SPX 5 points, XSP 1) where the source lists
    no strikes."""
    step = UNDERLYINGS[underlying].strike_step
    listed = source.listed_expiries(day, expiry, False)
    if expiry not in listed:
        near = ", ".join(str(e) for e in source.listed_expiries(day, expiry + dt.timedelta(days=10), False)[-4:])
        raise StrategyError(f"no SPX put expiring {expiry} was listed on {day} (listed near it: {near or 'none'})")
    strikes = source.listed_strikes(day, expiry)
    on_grid = strike % step == 0 if strikes is None else strike in set(map(float, strikes))
    if not on_grid:
        where = f"a multiple of {step:g}" if strikes is None else "one of the listed strikes"
        raise StrategyError(f"no {expiry} {underlying} put with strike {strike:g} was listed on {day}: the strike "
                            f"must be {where}")
    return put_contract(expiry, strike, underlying)


def chain_delta_strike(listed: Listed, put_delta: float) -> float | None:
    """The listed strike whose chain delta is nearest the target (the lower strike on a tie); None when the
    chain gives no delta for any."""
    deltas = np.abs(np.asarray(listed.deltas, dtype=float))
    if not np.isfinite(deltas).any():
        return None
    gaps = np.where(np.isfinite(deltas), np.abs(deltas - put_delta), np.inf)
    return float(np.asarray(listed.strikes, dtype=float)[int(np.argmin(gaps))])


def choose_expiry(trade_date: dt.date, dte_target: int, listed: Sequence[dt.date]) -> dt.date | None:
    """The listed expiration after the trade date whose calendar DTE is closest to the target; tie to the earlier."""
    best = None
    for expiry in listed:
        if expiry <= trade_date:
            continue
        gap = abs((expiry - trade_date).days - dte_target)
        if best is None or gap < best[0]:
            best = (gap, expiry)
    return best[1] if best else None


# The scalar rules: numbers in, a number out, nothing but arithmetic and `math`, so that the grid kernel
# (trading/grid_kernel.py) compiles these same function objects with numba while the engine and the daily trader
# call them as Python (and never import numba). Each is written once, here.

# How a position ends, one code for each, shared by both engines (the kernel logs the code; text by exit_text).
OPEN, SETTLED, STOP_LOSS_EXIT, TAKE_PROFIT_EXIT, CLOSE_DTE_EXIT, MARGIN_CALL_EXIT = range(6)
BUY_BACKS = (STOP_LOSS_EXIT, TAKE_PROFIT_EXIT, CLOSE_DTE_EXIT, MARGIN_CALL_EXIT)  # the ends that buy a put back
SIZE_CODES = {"contracts": 0, "notional": 1, "margin": 2}  # --size-by as the kernel takes it


def margin_per_contract(cash_secured: bool, spot: float, strike: float, price: float) -> float:
    """The margin one short put commits, in dollars, as the margin cap and sizing count it: the exchange minimum
    for a broad-based index put (100% of its current value plus 15% of the index less the out-of-the-money
    amount, at least its value plus 10% of the strike, x 100), or fully cash-secured, where the cash held covers
    assignment (100 x strike) and the put's own value counts toward it (100 x (strike - price))."""
    if cash_secured:
        return 100.0 * (strike - price)
    return 100.0 * max(price + 0.15 * spot - max(spot - strike, 0.0), price + 0.10 * strike)


def called_margin_per_contract(cash_secured: bool, spot: float, strike: float, price: float) -> float:
    """The equity (net liquidation: cash less the puts' value) one short put must keep, or be bought back in a
    margin call. Under Reg-T the sale's proceeds, held in the account, count toward the requirement, so the
    account meets it while cash >= requirement, that is net liquidation >= requirement less the put's value:
    100 x max(15% of the index less the out-of-the-money amount, 10% of the strike). A cash-secured put needs
    100 x (strike - price) of net liquidation (cash >= 100 x strike) and is never called."""
    if cash_secured:
        return 100.0 * (strike - price)
    return 100.0 * max(0.15 * spot - max(spot - strike, 0.0), 0.10 * strike)  # no price: ties stay exact ties


def size_contracts(wanted: int, per_contract: float, margin_in_use: float, limit: float) -> int:
    """Contracts to sell: `wanted`, reduced while total margin would exceed the limit (0 means no trade)."""
    room = limit - margin_in_use
    if per_contract <= 0:
        return wanted
    return max(0, min(wanted, math.floor(room / per_contract + 1e-9)))


def wanted_contracts(size_code: int, contracts_per_trade: int, size_target: float, equity: float, strike: float,
                     margin_each: float) -> int:
    """Contracts the sizing asks for, before the margin cap: a fixed count, or as many as keep the position's
    notional (100 x strike each) or margin within the target share of equity."""
    if size_code == 0:
        return contracts_per_trade
    each = 100.0 * strike if size_code == 1 else margin_each
    return max(0, math.floor(size_target * equity / each + 1e-9))


def on_tick_grid(price: float, direction: int, penny: bool) -> float:
    """A price on SPX's tick grid ($0.05 below $3, $0.10 from $3), or in cents (`penny`, XSP): rounded down
    (-1), up (+1) or to the nearest tick (0)."""
    step = 0.01 if penny else 0.05 if price < 3.0 else 0.10
    units = round(price / step, 6)
    ticks = math.floor(units) if direction < 0 else math.ceil(units) if direction > 0 else round(units)
    return round(ticks * step, 2)


def fill_price(price: float, slippage: float, penny: bool, direction: int) -> float:
    """The price an order at the close gets: a sell (direction -1) the price less a haircut of `slippage` of it,
    at least MIN_HAIRCUT (a cent for XSP), down to the tick; a buy (+1) the mirror, up to the tick. Zero slippage
    takes the nearest tick."""
    if slippage == 0:
        return on_tick_grid(price, 0, penny)
    return on_tick_grid(price + direction * max(price * slippage, 0.01 if penny else MIN_HAIRCUT), direction, penny)


def order_fees(fee: float, contracts: int) -> float:
    """The fees of an order of `contracts`, at `fee` a contract, in dollars."""
    return round(fee * contracts, 2)


def buy_back_cost(price: float, contracts: int, fee: float) -> float:
    """Cash paid to buy `contracts` puts back at `price` a share, with `fee` a contract, in dollars."""
    return round(price * 100 * contracts + fee * contracts, 2)


def settlement_level(am_settled: bool, spx_open: float, spx_close: float, scale: float) -> float:
    """AM-settled SPX at the expiry day's open (a stand-in for SET), PM-settled series at its close, XSP (scale
    0.1) at a tenth of SPX's."""
    return (spx_open if am_settled else spx_close) * scale


def settlement_loss(strike: float, settlement: float, contracts: int) -> float:
    """Cash paid at expiry by the put seller, in dollars."""
    return round(max(strike - settlement, 0.0) * 100 * contracts, 2)


def settled_pnl(premium: float, strike: float, value: float, contracts: int) -> float:
    """Net P&L in dollars of a position cash-settled at the index value `value`."""
    return round(premium - settlement_loss(strike, value, contracts), 2)


def exit_code(mark: float, fill: float, days_left: int, p: Any) -> int:
    """Which exit rule, if any, closes a position at today's mark (OPEN: none): the stop loss first, then the take
    profit, then the days left to expiry. `p`: the knobs by name (StrategyParams, or the kernel's record)."""
    if p.stop_loss and mark >= p.stop_loss * fill - 1e-9:
        return STOP_LOSS_EXIT
    if p.take_profit and mark <= (1 - p.take_profit) * fill + 1e-9:
        return TAKE_PROFIT_EXIT
    if p.close_dte and days_left <= p.close_dte:
        return CLOSE_DTE_EXIT
    return OPEN


SCALAR_RULES = (margin_per_contract, called_margin_per_contract, size_contracts, wanted_contracts, on_tick_grid, fill_price, order_fees,
                net_premium, buy_back_cost, settlement_level, settlement_loss, settled_pnl, exit_code)


def exit_text(code: int, params: StrategyParams) -> str:
    """What an exit code says, with the parameters that set it off (the same words in every output)."""
    return {STOP_LOSS_EXIT: f"stop loss {params.stop_loss:g}x", TAKE_PROFIT_EXIT: f"take profit {params.take_profit:.0%}",
            CLOSE_DTE_EXIT: f"{params.close_dte} days to expiry", MARGIN_CALL_EXIT: MARGIN_CALL}[code]


def holding_margin(cash_secured: bool, day: MarketDay, holding: Holding) -> float:
    """Dollars of equity an open position needs at today's index level and mark."""
    spot = day.spot * holding.contract.underlying.scale
    return margin_per_contract(cash_secured, spot, holding.contract.strike, holding.mark) * holding.contracts


def quoted_fill(bid: float, ask: float, given_up: float, penny: bool = False) -> float:
    """A sell's price inside a real quote: the mid less `given_up` of the half-spread, down to the tick (never
    below the bid)."""
    return max(on_tick_grid((bid + ask) / 2 - given_up * (ask - bid) / 2, -1, penny), bid)


def quoted_buy(bid: float, ask: float, given_up: float, penny: bool = False) -> float:
    """A buy's price inside a real quote: the mid plus `given_up` of the half-spread, up to the tick (never above
    the ask): the mirror of quoted_fill."""
    return min(on_tick_grid((bid + ask) / 2 + given_up * (ask - bid) / 2, 1, penny), ask)


def settle_at(contract: OptionContract, contracts: int, premium: float, value: float) -> float:
    """Net P&L in dollars of a position cash-settled at the index value `value`."""
    return settled_pnl(premium, contract.strike, value, contracts)


def settle(contract: OptionContract, contracts: int, premium: float, spx_open: float,
           spx_close: float) -> tuple[float, float]:
    """Cash settlement of a position at expiry: the index value used and the net P&L in dollars."""
    value = settlement_level(contract.am_settled, spx_open, spx_close, contract.underlying.scale)
    return value, settle_at(contract, contracts, premium, value)


@dataclass(frozen=True)
class Rules:
    """The rules bound to one parameter set, as the engine and the daily trader call them."""

    params: StrategyParams

    @property
    def underlying(self) -> Underlying:
        return UNDERLYINGS[self.params.underlying]

    @property
    def cash_secured(self) -> bool:
        return self.params.margin == "cash"

    def expiry_horizon(self) -> int:
        return 2 * self.params.dte_target + 21

    def strike(self, day: MarketDay, expiry: dt.date, listed: Listed | None) -> float | None:
        p, u = self.params, self.underlying
        if p.strike_rule == "bs-delta" and listed is not None and listed.deltas is not None:
            by_chain = chain_delta_strike(listed, p.put_delta)
            if by_chain is not None:
                return by_chain
        t = 0.0
        if p.strike_rule == "bs-delta":  # as prices do
            t = float(years_to_settlement((expiry - day.date).days, settles_am(expiry, u.name)))
        target = float(grid_strike(p.strike_rule, p.put_delta, u.strike_step, day.spot * u.scale, t, day.rate,
                                   dividend_yield(day.date), day.vix, day.vix3m))
        return snap_down(target, listed.strikes) if listed is not None else target

    def entry_price(self, q: Quote) -> float:
        """The fill of a sell: inside the day's real quote under a fill model, else the slippage haircut."""
        given_up, penny = spread_given_up(self.params.fill), self.underlying.penny
        if given_up is None or not q.two_sided:
            return fill_price(q.price, self.params.slippage, penny, -1)
        return quoted_fill(q.bid, q.ask, given_up, penny)

    def decide_entry(self, day: MarketDay, holdings: Sequence[Holding], equity: float,
                     expiries: Callable[[], Sequence[dt.date]],
                     strikes: Callable[[dt.date], Listed | None], quote: QuoteFn) -> Entry | Skip:
        """Filters in order (VIX, open positions, expiry already held), then strike, price and size."""
        p = self.params
        if not p.min_vix <= day.vix <= p.max_vix:
            above = day.vix > p.max_vix
            return Skip("VIX {:.1f} {} {:g}", (day.vix, "above" if above else "below",
                                                p.max_vix if above else p.min_vix))
        if len(holdings) >= p.max_open_positions:
            return Skip("{} positions open (max {})", (len(holdings), p.max_open_positions))
        expiry = choose_expiry(day.date, p.dte_target, expiries())
        if expiry is None:
            return Skip("no listed expiration")
        if any(h.contract.expiry == expiry for h in holdings):
            return Skip("already holding the {} expiry", (expiry,))
        strike = self.strike(day, expiry, strikes(expiry))
        if strike is None:
            return Skip("no listed strike at or below the target for {}", (expiry,))
        contract = put_contract(expiry, strike, p.underlying)
        q = quote(contract)
        fill = self.entry_price(q)
        if fill * 100 - p.fee <= p.min_premium:
            return Skip("premium {:.2f} too small: ${:.2f} a contract after slippage and fees", (q.price,
                                                                                              fill * 100 - p.fee))
        in_use = sum(holding_margin(self.cash_secured, day, h) for h in holdings)
        # the equity a contract needs: its margin at today's mark, and what selling below the mark costs
        per_contract = (margin_per_contract(self.cash_secured, day.spot * self.underlying.scale, strike, q.price)
                        + 100 * (q.price - fill))
        wanted = wanted_contracts(SIZE_CODES[p.size_by], p.contracts_per_trade, p.size_target, equity, strike,
                                  per_contract)
        if wanted == 0:
            return Skip("{} of equity buys no contract sized by {}", (f"{p.size_target:.0%}", p.size_by))
        contracts = size_contracts(wanted, per_contract, in_use, p.max_margin_pct * equity)
        if contracts == 0:
            return Skip("margin cap: ${:,.0f} a contract with ${:,.0f} of ${:,.0f} in use",
                        (per_contract, in_use, p.max_margin_pct * equity))
        return Entry(contract, contracts, q, fill, order_fees(p.fee, contracts))

    def exit_price(self, q: Quote) -> float:
        """The price a buy-back pays: inside the day's real quote under a fill model, else the slippage haircut
        above the price (the mirror of entry_price)."""
        given_up, penny = spread_given_up(self.params.fill), self.underlying.penny
        if given_up is None or not q.two_sided:
            return fill_price(q.price, self.params.slippage, penny, 1)
        return quoted_buy(q.bid, q.ask, given_up, penny)

    def buy_back(self, holding: Holding, q: Quote, reason: str) -> Exit:
        price = self.exit_price(q)
        return Exit(reason, q, price, buy_back_cost(price, holding.contracts, self.params.fee))

    def exit_reason(self, day: MarketDay, holding: Holding) -> str | None:
        """Which exit rule, if any, closes the position at today's mark (exit_code), in words."""
        p = self.params
        code = exit_code(holding.mark, holding.fill, (holding.contract.expiry - day.date).days, p)
        return None if code == OPEN else exit_text(code, p)

    def decide_exit(self, day: MarketDay, holding: Holding, quote: QuoteFn) -> Exit | Hold:
        """Buy the put back when an exit rule says so (priced by `quote`, asked only then); else hold."""
        reason = self.exit_reason(day, holding)
        return HOLD if reason is None else self.buy_back(holding, quote(holding.contract), reason)

    def margin_call(self, day: MarketDay, holdings: Sequence[Holding], equity: float,
                    quote: QuoteFn) -> list[Exit | Hold]:
        """Re-mark the margin of the open puts against equity (called_margin_per_contract); while it exceeds
        equity, buy back the put that needs the most (at the day's price plus the spread, and the fee). One
        decision per holding."""
        spot = day.spot * self.underlying.scale
        needs = [called_margin_per_contract(self.cash_secured, spot, h.contract.strike, h.mark) * h.contracts
                 for h in holdings]
        decisions: list[Exit | Hold] = [HOLD] * len(holdings)
        total = sum(needs)
        if total <= equity:  # the usual day
            return decisions
        for index in sorted(range(len(holdings)), key=lambda k: -needs[k]):
            if total <= equity:
                break
            h = holdings[index]
            decision = self.buy_back(h, quote(h.contract), MARGIN_CALL)
            decisions[index] = decision
            total -= needs[index]
            equity -= decision.cost - h.mark * 100 * h.contracts  # the spread and the fee are lost; the mark was owed
        return decisions

    def settle(self, contract: OptionContract, contracts: int, premium: float, spx_open: float,
               spx_close: float) -> tuple[float, float]:
        return settle(contract, contracts, premium, spx_open, spx_close)
