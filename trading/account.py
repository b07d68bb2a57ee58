"""The account as the rules see it, from the book (capital, realised P&L, open premiums, the day's marks and the
Reg-T rule) or as a broker reports it, with the notional the open puts carry and what exceeds the backtest's
own limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from trading.brokers.protocol import Account
from trading.rules import called_margin_per_contract
from trading.strategy import StrategyParams


@dataclass(frozen=True)
class AccountView:
    source: str  # "book", or the broker's name
    account: Account
    notional: float  # strike x 100 x contracts of the open puts
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Held:
    """An open put as the account counts it."""

    strike: float
    contracts: int
    premium: float  # dollars received, net
    mark: float  # per share
    spot: float  # its index's level that day


def book_account(params: StrategyParams, realised: float, held: Sequence[Held]) -> Account:
    """Cash is the capital, the realised P&L and the open premiums; net liquidation less the puts' marks; the
    margin each put must keep by the rule a margin call applies; buying power what net liquidation has above it."""
    cash = params.capital + realised + sum(h.premium for h in held)
    net = cash - sum(100 * h.mark * h.contracts for h in held)
    margin = sum(called_margin_per_contract(params.margin == "cash", h.spot, h.strike, h.mark) * h.contracts
                 for h in held)
    return Account(round(net, 2), round(cash, 2), round(net - margin, 2), round(margin, 2))


def exposure_warnings(params: StrategyParams, account: Account, open_positions: int, notional: float,
                      peak_exposure: float | None) -> tuple[str, ...]:
    """What the live account holds beyond what the backtest held: more notional (a share of net liquidation)
    than the calibrated run ever carried, more margin than its cap, more positions than its limit."""
    found = []
    exposure = notional / account.net_liquidation if account.net_liquidation > 0 else float("inf")
    if peak_exposure is not None and exposure > peak_exposure:
        found.append(f"notional exposure {exposure:.0%} of net liquidation is over the most the calibrated "
                     f"backtest ever carried ({peak_exposure:.0%})")
    cap = params.max_margin_pct * account.net_liquidation
    if account.maintenance > cap:
        found.append(f"margin in use ${account.maintenance:,.2f} is over the backtest's cap of "
                     f"{params.max_margin_pct:.0%} of net liquidation (${cap:,.2f})")
    if open_positions > params.max_open_positions:
        found.append(f"{open_positions} positions open, over the backtest's limit of {params.max_open_positions}")
    return tuple(found)


def view(source: str, params: StrategyParams, account: Account, notional: float, open_positions: int,
         peak_exposure: float | None) -> AccountView:
    return AccountView(source, account, round(notional, 2),
                       exposure_warnings(params, account, open_positions, notional, peak_exposure))
