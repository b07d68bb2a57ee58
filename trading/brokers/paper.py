"""The paper broker: kept in the project's database (its own table, apart from the book), it fills a limit order
only when the day's real quote crosses it (a sale at the bid, a buy-back at the ask), or, on an estimated price,
when the fill model's price (the backtest's) reaches it, at that price, with the strategy's fees. A day order not
filled by its day's end expires; a GTC order is tried against each later day's quote. Expired puts are
cash-settled as the book settles them. Each call is its own transaction, as a broker's answer is its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backtest.types import MarketDay, QuoteFn
from data.contracts import OptionContract
from data.errors import DataError
from db.models import PaperOrder
from db.session import transaction
from trading.brokers.protocol import Account, Action, BrokerOrder, BrokerPosition, Preview, Status, Ticket
from trading.brokers.symbols import contract_of_occ
from trading.rules import Rules, called_margin_per_contract, order_fees, settlement_loss


@dataclass(frozen=True)
class PaperMarket:
    """What the paper broker sees of the market: the day, its quotes, and the settlement values of expiries."""

    day: MarketDay
    quote: QuoteFn
    settlement: Callable[[OptionContract], float | None]  # None while not known
    rules: Rules
    capital: float  # the account's cash before its first order


class PaperBroker:
    name = "paper"
    instant = True

    def __init__(self, factory: sessionmaker[Session], market: PaperMarket) -> None:
        self.factory, self.market = factory, market

    # -- orders -------------------------------------------------------------------------------------------
    def preview(self, ticket: Ticket) -> Preview:
        contract = contract_of_occ(ticket.symbol)
        mark = self.market.quote(contract).price
        sign = 1 if ticket.action is Action.SELL_TO_OPEN else -1
        requirement = self._requirement(contract, mark) * ticket.quantity
        fees = order_fees(self.market.rules.params.fee, ticket.quantity)
        # buying power = net liquidation less the requirement: a sale takes the requirement and the fees, and
        # gives (or a buy-back takes) the difference between its price and the mark
        effect = sign * requirement + fees - sign * 100 * (ticket.limit - mark) * ticket.quantity
        return Preview(round(effect, 2), fees)

    def place(self, ticket: Ticket) -> BrokerOrder:
        with transaction(self.factory, write=True) as session:
            order = PaperOrder(client_id=ticket.client_id, placed_on=self.market.day.date, symbol=ticket.symbol,
                               action=ticket.action, quantity=ticket.quantity, limit_cents=round(ticket.limit * 100),
                               time_in_force=ticket.time_in_force, status=Status.WORKING, filled=0, fees_cents=0)
            session.add(order)
            self._try_fill(order)
            session.flush()
            return _shown(order)

    def order(self, broker_id: str) -> BrokerOrder:
        with transaction(self.factory, write=True) as session:
            return _shown(self._refreshed(self._get(session, broker_id)))

    def find(self, client_id: str) -> BrokerOrder | None:
        with transaction(self.factory, write=True) as session:
            found = session.scalars(select(PaperOrder).where(PaperOrder.client_id == client_id)
                                    .order_by(PaperOrder.id.desc())).first()
            return None if found is None else _shown(self._refreshed(found))

    def cancel(self, broker_id: str) -> BrokerOrder:
        with transaction(self.factory, write=True) as session:
            order = self._refreshed(self._get(session, broker_id))
            if order.status == Status.WORKING:
                order.status = Status.CANCELLED
            return _shown(order)

    def replace(self, broker_id: str, ticket: Ticket) -> BrokerOrder:
        with transaction(self.factory, write=True) as session:
            order = self._refreshed(self._get(session, broker_id))
            if order.status == Status.WORKING:
                order.limit_cents = round(ticket.limit * 100)
                self._try_fill(order)
            return _shown(order)

    # -- the account --------------------------------------------------------------------------------------
    def positions(self) -> list[BrokerPosition]:
        return [BrokerPosition(symbol, -short, round(price, 4))
                for symbol, (short, price) in sorted(self._held().items()) if short]

    def account(self) -> Account:
        cash, maintenance, marks = self._cash(), 0.0, 0.0
        for symbol, (short, _) in self._held().items():
            contract = contract_of_occ(symbol)
            mark = self.market.quote(contract).price
            marks += 100 * mark * short
            maintenance += called_margin_per_contract(self.market.rules.cash_secured, self._spot(contract),
                                                      contract.strike, mark) * short
        net = cash - marks
        return Account(round(net, 2), round(cash, 2), round(net - maintenance, 2), round(maintenance, 2))

    # -- inside -------------------------------------------------------------------------------------------
    def _get(self, session: Session, broker_id: str) -> PaperOrder:
        order = session.get(PaperOrder, int(broker_id)) if broker_id.isdigit() else None
        if order is None:
            raise DataError(f"the paper broker has no order {broker_id}")
        return order

    def _refreshed(self, order: PaperOrder) -> PaperOrder:
        """A working order as of today: a day order from an earlier day expired, as is any order on a put whose
        expiry has passed; a GTC order tried again on today's quote."""
        if order.status == Status.WORKING:
            day = self.market.day.date
            if (order.time_in_force == "day" and order.placed_on < day) or contract_of_occ(order.symbol).expiry < day:
                order.status = Status.EXPIRED
            else:
                self._try_fill(order)
        return order

    def _try_fill(self, order: PaperOrder) -> None:
        contract = contract_of_occ(order.symbol)
        q, limit, rules = self.market.quote(contract), order.limit_cents / 100, self.market.rules
        sale = order.action == Action.SELL_TO_OPEN
        if q.two_sided:
            price = q.bid if sale else q.ask
        else:
            price = rules.entry_price(q) if sale else rules.exit_price(q)
        if (price >= limit) if sale else (price <= limit):
            order.status, order.filled, order.filled_on = Status.FILLED, order.quantity, self.market.day.date
            order.fill_cents = round(price * 100)
            order.fees_cents = round(order_fees(rules.params.fee, order.quantity) * 100)

    def _spot(self, contract: OptionContract) -> float:
        return self.market.day.spot * contract.underlying.scale

    def _requirement(self, contract: OptionContract, mark: float) -> float:
        return called_margin_per_contract(self.market.rules.cash_secured, self._spot(contract), contract.strike, mark)

    def _fills(self) -> list[PaperOrder]:
        with transaction(self.factory) as session:
            fills = list(session.scalars(select(PaperOrder).where(PaperOrder.filled > 0).order_by(PaperOrder.id)))
            session.expunge_all()
            return fills

    def _held(self) -> dict[str, tuple[int, float]]:
        """Each put still held: (contracts short, the average price they were sold at), as a broker reports a
        position's average open price (a buy-back lowers the count, not the price)."""
        sold: dict[str, tuple[int, int, int]] = {}  # contracts sold, cents received, contracts bought back
        for order in self._fills():
            if self._settled(order.symbol) is not None:
                continue
            n, cents, back = sold.get(order.symbol, (0, 0, 0))
            if order.action == Action.SELL_TO_OPEN:
                sold[order.symbol] = (n + order.filled, cents + order.filled * (order.fill_cents or 0), back)
            else:
                sold[order.symbol] = (n, cents, back + order.filled)
        return {symbol: (n - back, cents / n / 100 if n else 0.0) for symbol, (n, cents, back) in sold.items()}

    def _settled(self, symbol: str) -> float | None:
        """The settlement value of a put whose expiry has come (None while it is held)."""
        contract = contract_of_occ(symbol)
        return self.market.settlement(contract) if contract.expiry <= self.market.day.date else None

    def _cash(self) -> float:
        cash, shorts = self.market.capital, dict[str, int]()
        for order in self._fills():
            sign = 1 if order.action == Action.SELL_TO_OPEN else -1
            cash += sign * 100 * order.filled * (order.fill_cents or 0) / 100 - order.fees_cents / 100
            shorts[order.symbol] = shorts.get(order.symbol, 0) + sign * order.filled
        for symbol, short in shorts.items():
            value = self._settled(symbol)
            if value is not None and short:
                cash -= settlement_loss(contract_of_occ(symbol).strike, value, short)
        return cash


def _shown(order: PaperOrder) -> BrokerOrder:
    return BrokerOrder(str(order.id), order.client_id, Status(order.status), order.limit_cents / 100, order.filled,
                       None if order.fill_cents is None else order.fill_cents / 100)
