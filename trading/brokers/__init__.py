"""The brokers by name (a new broker is one module and one line in BROKERS), made from the day's market and the
environment mapping the command line passes in. Light: the command line reads the names; each factory imports
its broker when called."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from data.errors import BadInput

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from trading.brokers.protocol import Broker
    from trading.context import Context
    from trading.strategy import StrategyParams
    from trading.trader import DayMarket


def _paper(ctx: Context, factory: sessionmaker[Session], market: DayMarket, params: StrategyParams) -> Broker:
    from data.contracts import OptionContract
    from data.errors import DataError
    from trading.brokers.paper import PaperBroker, PaperMarket
    from trading.rules import Rules, settlement_level

    history = market.source.history()

    def settlement(contract: OptionContract) -> float | None:
        try:
            i = history.index_of(contract.expiry)
        except DataError:
            return None
        return settlement_level(contract.am_settled, float(history.spx_open[i]), float(history.spx_close[i]),
                                contract.underlying.scale)

    return PaperBroker(factory, PaperMarket(market.day, market.mark, settlement, Rules(params), params.capital))


def _tastytrade(ctx: Context, factory: sessionmaker[Session], market: DayMarket, params: StrategyParams) -> Broker:
    from importlib.metadata import version

    from data.http import HttpClient
    from trading.brokers.tastytrade import TastytradeBroker, tastytrade_settings
    from trading.sources import max_tries, request_deadline

    base, credentials, account = tastytrade_settings(ctx.environ)
    http = HttpClient(base, "Tastytrade", "SPX_WHEEL_TASTYTRADE_URL", max_tries=max_tries(ctx.environ),
                      deadline=request_deadline(ctx.environ), max_bytes=16 << 20)
    return TastytradeBroker(http, credentials, account, version("spx-wheel"))


BROKERS: dict[str, Callable[[Context, sessionmaker[Session], DayMarket, StrategyParams], Broker]] = {
    "paper": _paper, "tastytrade": _tastytrade}


def make_broker(name: str, ctx: Context, factory: sessionmaker[Session], market: DayMarket,
                params: StrategyParams) -> Broker:
    if name not in BROKERS:
        raise BadInput(f"unknown broker {name!r}: choose from {', '.join(BROKERS)}")
    return BROKERS[name](ctx, factory, market, params)
