"""The strategy rules, with hand-computed cases."""

import datetime as dt
import math

import pytest

from backtest.types import HOLD as HOLD_
from backtest.types import Entry, Exit, Holding, MarketDay, Quote, Skip
from data.contracts import put_contract
from data.provenance import PriceSource
from trading.rules import (
    Rules,
    fill_price,
    margin_per_contract,
    seed_strike,
    settle,
    settlement_level,
    settlement_loss,
    size_contracts,
    snap_down,
)
from trading.strategy import StrategyError, StrategyParams


@pytest.mark.parametrize("spot,delta,strike", [
    (5800, 0.20, 5395),  # the seed: 5800 - 5800*0.07 = 5394 -> 5395
    (5800, 0.15, 5435),  # 5437.5 is a tie between 5435 and 5440: the lower strike
    (4000, 0.30, 3660),  # 4000 * (1 - 0.085) = 3660 exactly
    (4123, 0.25, 3805),  # 4123 * 0.9225 = 3803.47 -> 3805
])
def test_seed_strike(spot, delta, strike):
    assert seed_strike(spot, delta) == strike


def test_snap_down_to_listed_strikes():
    listed = [5200.0, 5250.0, 5300.0]
    assert snap_down(5280, listed) == 5250
    assert snap_down(5300, listed) == 5300
    assert snap_down(5100, listed) is None


def test_the_seed_settlement_example():
    # premium 15.40, strike 5280, settlement 5200: -6,460 per contract before slippage and costs
    entry = Entry(put_contract(dt.date(2024, 12, 20), 5280), 1, Quote(15.40, "real", 0.2, -0.1),
                  fill_price(15.40, 0.0, False, -1), 0.0)
    assert entry.premium == 1540.00
    assert entry.premium - settlement_loss(5280, 5200, 1) == -6460.00
    assert settlement_loss(5280, 5300, 2) == 0.0
    # the one function the engine and the daily trader both settle with
    assert settle(entry.contract, 1, entry.premium, spx_open=5200.0, spx_close=5400.0) == (5200.0, -6460.00)
    assert settle(entry.contract, 1, entry.premium, spx_open=5300.0, spx_close=5100.0) == (5300.0, 1540.00)


def test_settlement_value_by_root():
    am = put_contract(dt.date(2024, 12, 20), 5280)
    pm = put_contract(dt.date(2024, 12, 13), 5280)
    assert settlement_level(am.am_settled, 5900.0, 5950.0, am.underlying.scale) == 5900.0
    assert settlement_level(pm.am_settled, 5900.0, 5950.0, pm.underlying.scale) == 5950.0


@pytest.mark.parametrize("price,slippage,fill", [
    (15.40, 0.0, 15.40), (15.43, 0.0, 15.40), (2.97, 0.0, 2.95), (2.98, 0.0, 3.00),  # nearest tick
    (10.00, 0.05, 9.50), (0.50, 0.05, 0.45), (0.04, 0.05, -0.05),
    (15.4132, 0.05, 14.60),  # 15.4132 - 0.7707 = 14.6425: down to the $0.10 tick
    (3.10, 0.05, 2.90),  # 3.10 - 0.155 = 2.945: below $3 the tick is $0.05, down to 2.90
    (3.20, 0.05, 3.00),  # 3.04: down to 3.00
])
def test_entry_fill(price, slippage, fill):
    assert fill_price(price, slippage, False, -1) == pytest.approx(fill)


def test_regt_margin_examples_from_the_rule():
    # Cboe's minimum for a short broad-based index put: the premium plus 15% of the index less the out-of-the-money
    # amount, at least the premium plus 10% of the strike, x 100. S = 5000: K 4700, P 20: 100 x max(20 + 750 - 300,
    # 20 + 470) = 49,000; K 4800, P 30: 100 x max(30 + 750 - 200, 30 + 480) = 58,000
    assert margin_per_contract(False, 5000, 4700, 20.0) == pytest.approx(49_000)
    assert margin_per_contract(False, 5000, 4800, 30.0) == pytest.approx(58_000)
    # cash-secured: 100 x 4800 held against assignment, the put's 30 counting toward it -> equity needs 477,000
    assert margin_per_contract(True, 5000, 4800, 30.0) == pytest.approx(477_000)


def test_size_contracts_reduces_under_the_margin_cap():
    assert size_contracts(3, 50_000, 100_000, 250_000) == 3
    assert size_contracts(5, 50_000, 100_000, 250_000) == 3
    assert size_contracts(2, 50_000, 220_000, 250_000) == 0


def test_params_are_validated():
    for bad in ({"put_delta": 0.0}, {"put_delta": 1.2}, {"dte_target": -1}, {"min_vix": 40.0},
                {"strike_rule": "magic"}, {"max_margin_pct": 0.0}, {"fee": -1.0}):
        with pytest.raises(StrategyError):
            StrategyParams(**{"put_delta": 0.2, "dte_target": 45, **bad})


DAY = MarketDay(dt.date(2024, 11, 5), 5800.0, 20.0, math.nan, 0.045)
EXPIRIES = [dt.date(2024, 12, 13), dt.date(2024, 12, 20), dt.date(2024, 12, 27)]


def decide(rules, day=DAY, holdings=(), equity=500_000.0, price=15.0):
    return rules.decide_entry(day, list(holdings), equity, lambda: EXPIRIES, lambda e: None,
                              lambda c: Quote(price, "estimated", 0.2, -0.1))


def test_filters_in_order_with_reasons():
    rules = Rules(StrategyParams(put_delta=0.15, dte_target=45))
    assert decide(rules, day=DAY._replace(vix=38.2)).reason == "VIX 38.2 above 35"
    assert decide(rules, day=DAY._replace(vix=10.0)).reason == "VIX 10.0 below 12"
    held = [Holding(put_contract(e, 5400), 1, 5.0, 6.0) for e in EXPIRIES]
    assert decide(rules, holdings=held).reason == "3 positions open (max 3)"
    assert decide(rules, holdings=held[1:2]).reason == "already holding the 2024-12-20 expiry"


def test_entry_sizes_under_the_cap():
    rules = Rules(StrategyParams(put_delta=0.15, dte_target=45, contracts_per_trade=4))
    entry = decide(rules, equity=200_000.0, price=15.0)
    # strike 5435; Reg-T: max(15 + 870 - 365, 15 + 543.5) * 100 = 55,850 a contract; cap 100,000 -> 1 contract
    assert isinstance(entry, Entry)
    assert entry.contract.ticker == "O:SPX241220P05435000"
    assert entry.contracts == 1
    assert entry.fill == pytest.approx(14.20)  # 15.00 - 0.75 = 14.25: down to the $0.10 tick
    assert entry.premium == pytest.approx(14.20 * 100 - 1.50)
    assert isinstance(decide(rules, equity=100_000.0), Skip)


@pytest.mark.parametrize("expiry", [dt.date(2024, 12, 20), dt.date(2024, 12, 13)])  # AM monthly, PM weekly
def test_bs_delta_strike_is_the_listed_step_nearest_the_delta(expiry):
    from backtest.decision import estimated_quote

    rules = Rules(StrategyParams(put_delta=0.20, dte_target=45, strike_rule="bs-delta"))
    strike = rules.strike(DAY, expiry, None)
    assert strike % 5 == 0

    def delta(k):
        return -estimated_quote(DAY, put_contract(expiry, k)).delta

    # the strike 2.5 points either side brackets 0.20, priced exactly as the trade will be
    assert delta(strike - 2.5) <= 0.20 <= delta(strike + 2.5)


def test_margin_call_buys_back_the_hungriest_put_first_until_the_rest_fits():
    """By hand: spot 4000. Reg-T per contract = 100 * max(P + 0.15*S - OTM, P + 0.10*K), of which the put's
    value P is covered by the proceeds held: net liquidation must keep 100 * max(0.15*S - OTM, 0.10*K).
    3800 put at 20: OTM 200 -> max(600 - 200, 380) = 400 -> $40,000 a contract, x10 = $400,000.
    3600 put at 5: OTM 400 -> max(600 - 400, 360) = 360 -> $36,000 a contract, x10 = $360,000.
    Total $760,000 against equity $500,000: buy back the 3800s (fill 20 + 5% = 21.00, cost 21.00 * 1000 + 15 =
    $21,015, of which $1,015 is spread and fee). Then $360,000 needs at most $498,985: it fits."""
    from backtest.types import Exit

    rules = Rules(StrategyParams(put_delta=0.2, dte_target=30))
    day = MarketDay(dt.date(2024, 11, 5), 4000.0, 40.0, math.nan, 0.045)
    hungry = Holding(put_contract(dt.date(2024, 12, 20), 3800), 10, 20.0, 5.0)
    lean = Holding(put_contract(dt.date(2024, 12, 13), 3600), 10, 5.0, 2.0)
    def marks(contract):
        return Quote(20.0 if contract.strike == 3800 else 5.0, PriceSource.ESTIMATED, 0.3, -0.2)

    decisions = rules.margin_call(day, [lean, hungry], 500_000.0, marks)
    assert decisions[0] == HOLD_ and decisions[1] == Exit("margin call", marks(hungry.contract), 21.0, 21_015.0)
    assert rules.margin_call(day, [lean, hungry], 800_000.0, marks) == [HOLD_, HOLD_]
    both = rules.margin_call(day, [lean, hungry], 300_000.0, marks)  # after the 3800s, $360,000 > $298,985
    assert all(isinstance(d, Exit) for d in both)


@pytest.mark.parametrize("margin, cash, called", [
    # one short put, K 2600, S 2900, P 10: the Reg-T requirement is 100 x max(10 + 435 - 300, 10 + 260) = $27,000,
    # which the cash held (the sale's proceeds in it) meets from $27,000 on: net liquidation (cash less the put's
    # $1,000) from $26,000 on
    ("regt", 27_500.0, False),  # net liquidation $26,500: met (the double-counted rule called here)
    ("regt", 27_000.0, False),  # exactly met
    ("regt", 26_900.0, True),  # $100 short
    # cash-secured: the cash must cover assignment, 100 x 2600 = $260,000: net liquidation $259,000
    ("cash", 260_000.0, False),
    ("cash", 259_900.0, True),
])
def test_a_margin_call_counts_the_proceeds_toward_the_requirement_once(margin, cash, called):
    rules = Rules(StrategyParams(put_delta=0.2, dte_target=30, margin=margin))
    day = MarketDay(dt.date(2024, 11, 5), 2900.0, 40.0, math.nan, 0.045)
    held = Holding(put_contract(dt.date(2024, 12, 20), 2600), 1, 10.0, 10.0)
    (decision,) = rules.margin_call(day, [held], cash - 1_000.0,
                                    lambda c: Quote(10.0, PriceSource.ESTIMATED, 0.3, -0.05))
    assert (decision != HOLD_) == called


@pytest.mark.parametrize("knobs,mark,reason", [
    ({"take_profit": 0.5}, 2.00, "take profit 50%"),  # sold at 4.00: 2.00 is (1 - 0.5) x 4.00, at the line
    ({"take_profit": 0.5}, 2.05, None),
    ({"stop_loss": 2}, 8.00, "stop loss 2x"),  # 2 x 4.00
    ({"stop_loss": 2}, 7.95, None),
    ({"stop_loss": 2, "take_profit": 0.5}, 3.00, None),
    ({"close_dte": 7}, 3.00, "7 days to expiry"),  # 2024-12-13 is 7 days after 2024-12-06
    ({"close_dte": 6}, 3.00, None),
    ({}, 0.01, None),  # every exit off: held to expiry
])
def test_exit_rules_fire_at_their_lines(knobs, mark, reason):
    rules = Rules(StrategyParams(put_delta=0.2, dte_target=30, **knobs))
    day = MarketDay(dt.date(2024, 12, 6), 6000.0, 15.0, math.nan, 0.045)
    holding = Holding(put_contract(dt.date(2024, 12, 13), 5800), 2, mark, 4.00)
    decision = rules.decide_exit(day, holding, lambda c: Quote(mark, PriceSource.REAL, 0.2, -0.1, mark - 0.1,
                                                                 mark + 0.1))
    assert (decision.reason if isinstance(decision, Exit) else None) == reason
    if reason is not None:  # slippage 5% (at least 0.05) up to the tick, plus $1.50 a contract
        paid = {2.00: 2.10, 8.00: 8.40, 3.00: 3.20}[mark]
        assert (decision.fill, decision.cost, decision.quote.source) == (paid, round(paid * 200 + 3.0, 2), "real")


@pytest.mark.parametrize("fill,bid,ask,paid", [
    ("mid", 1.00, 1.30, 1.15),  # the mid, on the $0.05 grid
    ("mid", 1.00, 1.20, 1.10),
    ("bid", 1.00, 1.30, 1.30),  # the mirror of selling at the bid: buying at the ask
    ("mid-spread:0.5", 4.00, 4.60, 4.50),  # 4.30 + 0.15 = 4.45, up to the $0.10 tick: 4.50
    ("mid-spread:0.5", 4.00, 4.40, 4.30),  # 4.20 + 0.10 = 4.30
    ("slippage", 1.00, 1.30, 1.25),  # no fill model: the mark 1.15 plus 5% (0.0575) = 1.2075, up to 1.25
])
def test_a_buy_back_inside_a_real_quote_pays_the_mirror_of_the_entry_fill(fill, bid, ask, paid):
    rules = Rules(StrategyParams(put_delta=0.2, dte_target=30, fill=fill))
    assert rules.exit_price(Quote((bid + ask) / 2, PriceSource.REAL, 0.2, -0.1, bid, ask)) == paid



@pytest.mark.parametrize("price,slippage,fill", [
    (2.00, 0.05, 2.10),  # 2.00 + 0.10 = 2.10, on the $0.05 grid
    (2.97, 0.05, 3.20),  # 2.97 + 0.1485 = 3.1185: from $3 the tick is $0.10, up to 3.20
    (10.00, 0.05, 10.50), (10.01, 0.05, 10.60), (1.00, 0.05, 1.05),  # at least the $0.05 minimum haircut
    (7.77, 0.0, 7.80),  # no slippage: the nearest tick
])
def test_exit_fill_pays_up_to_the_tick(price, slippage, fill):

    assert fill_price(price, slippage, False, 1) == pytest.approx(fill)


def test_no_trade_unless_the_net_premium_clears_the_fees_and_the_minimum():
    cheap = decide(Rules(StrategyParams(put_delta=0.15, dte_target=45)), price=0.06)  # fill 0.00: $-1.50 net
    assert isinstance(cheap, Skip) and "too small" in cheap.reason
    thin = decide(Rules(StrategyParams(put_delta=0.15, dte_target=45)), price=0.10)  # fill 0.05: $3.50 net
    assert not isinstance(thin, Skip)
    floor = decide(Rules(StrategyParams(put_delta=0.15, dte_target=45, min_premium=10)), price=0.10)
    assert isinstance(floor, Skip) and "$3.50 a contract" in floor.reason


@pytest.mark.parametrize("size_by,target,equity,expected", [
    ("contracts", 1.0, 500_000.0, 1),  # the seed's count, whatever the equity
    ("notional", 1.0, 500_000.0, 0),  # one 5435 put is $543,500 of notional: more than equity
    ("notional", 1.0, 1_200_000.0, 2),  # 1,200,000 / 543,500 = 2.2
    # Reg-T of the 5435 put at 15, spot 5800: max(15 + 870 - 365, 15 + 543.5) x 100 = 55,850 a contract;
    # 0.5 x 500,000 / 55,850 = 4.5 -> 4 (the 100% cap allows 8)
    ("margin", 0.5, 500_000.0, 4),
])
def test_sizing_by_notional_or_margin(size_by, target, equity, expected):
    rules = Rules(StrategyParams(put_delta=0.15, dte_target=45, size_by=size_by, size_target=target,
                                 max_margin_pct=1.0))
    decision = decide(rules, equity=equity, price=15.0)
    if expected == 0:
        assert isinstance(decision, Skip) and "buys no contract" in decision.reason
    else:
        assert isinstance(decision, Entry) and decision.contracts == expected


@pytest.mark.parametrize("bid, ask, given_up, expected", [
    (6.70, 7.00, 0.25, 6.80),  # mid 6.85 less a quarter of 0.15: 6.8125, down to the 0.10 tick
    (6.70, 7.00, 0.0, 6.80),  # the mid itself is off the tick above $3
    (6.70, 7.00, 1.0, 6.70),  # the bid
    (1.00, 1.10, 0.0, 1.05),  # below $3 the tick is 0.05
    (0.05, 0.10, 0.5, 0.05),  # never below the bid
])
def test_a_sell_inside_the_quote(bid, ask, given_up, expected):
    from trading.rules import quoted_fill

    assert quoted_fill(bid, ask, given_up) == pytest.approx(expected)


@pytest.mark.parametrize("text, share", [("mid", 0.0), ("bid", 1.0), ("mid-spread:0.25", 0.25), ("slippage", None)])
def test_fill_models(text, share):
    from trading.choices import spread_given_up

    assert spread_given_up(text) == share


@pytest.mark.parametrize("text", ["mid-spread:1.5", "mid-spread:", "ask", "mid-spread:-0.1", "mid-spread:nan"])
def test_fill_models_refused(runner, text):
    from trading.cli import cli

    result = runner.invoke(cli, ["backtest", "--delta", "0.2", "--dte", "30", "--fill", text])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "must be slippage, mid, bid or mid-spread:F with F from 0 to 1" in result.stderr
