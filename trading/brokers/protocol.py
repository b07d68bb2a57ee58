"""What the daily run asks of a broker, whichever it is: the account, the positions, and orders (preview, place,
status, cancel, replace, found again by the client id the book gave them). Prices are dollars per share; a
quantity is contracts (a position's is negative when short)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from data.provenance import Named


class Action(Named):
    SELL_TO_OPEN = "sell to open"
    BUY_TO_CLOSE = "buy to close"


class Status(Named):
    """An order's state. RECORDED and REFUSED are the book's alone: decided but not (yet) sent, or stopped here
    by a guard or the preview."""

    RECORDED = "recorded"
    REFUSED = "refused"
    WORKING = "working"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"


ENDED = frozenset({Status.REFUSED, Status.FILLED, Status.CANCELLED, Status.REJECTED, Status.EXPIRED})


@dataclass(frozen=True)
class Ticket:
    """An order as it is sent: `client_id` is the book's name for it, which the broker keeps with the order."""

    client_id: str
    symbol: str  # OCC, as brokers spell it
    action: Action
    quantity: int
    limit: float
    time_in_force: str = "day"  # day / gtc


@dataclass(frozen=True)
class BrokerOrder:
    """An order as the broker has it now."""

    broker_id: str
    client_id: str | None
    status: Status
    limit: float
    filled: int
    fill_price: float | None  # the average over its fills
    note: str = ""


@dataclass(frozen=True)
class Preview:
    """What the broker says an order would do: buying power it would take, fees, and warnings (an order with a
    warning would be rejected)."""

    buying_power_effect: float
    fees: float
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Account:
    net_liquidation: float
    cash: float
    buying_power: float
    maintenance: float  # the margin the positions hold


@dataclass(frozen=True)
class BrokerPosition:
    symbol: str
    quantity: int  # negative: short
    average_price: float


class Broker(Protocol):
    name: str
    instant: bool  # its orders end at once (paper): no waiting between reprices

    def account(self) -> Account: ...

    def positions(self) -> list[BrokerPosition]: ...

    def preview(self, ticket: Ticket) -> Preview: ...

    def place(self, ticket: Ticket) -> BrokerOrder: ...

    def order(self, broker_id: str) -> BrokerOrder: ...

    def find(self, client_id: str) -> BrokerOrder | None:
        """The order the broker holds under this client id, or None: asked before any send."""
        ...

    def cancel(self, broker_id: str) -> BrokerOrder: ...

    def replace(self, broker_id: str, ticket: Ticket) -> BrokerOrder:
        """The order at a new limit (a broker may give it a new id)."""
        ...
