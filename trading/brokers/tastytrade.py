"""Tastytrade over its documented REST API (developer.tastytrade.com), through the project's HTTP transport:
OAuth (a refresh token and the client secret buy a 15-minute access token, renewed on a 401), the account's
balances and positions, dry-run and live orders with the book's client id as `external-identifier`, status,
cancel, replace. The SDK (tastyware/tastytrade) fixes its base URLs and brings its own async client, so it
cannot be pointed at a local fake nor given this transport's deadlines and body caps. The credentials live in
this object only: no message, log line or row ever holds them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar

import requests

from data.errors import BadInput, DataError
from data.http import FetchError, HttpClient
from trading.brokers.protocol import Account, Action, BrokerOrder, BrokerPosition, Preview, Status, Ticket
from trading.brokers.symbols import contract_of_occ

T = TypeVar("T")
PRODUCTION = "https://api.tastyworks.com"
SANDBOX = "https://api.cert.tastyworks.com"
STATUSES = {"Received": Status.WORKING, "Routed": Status.WORKING, "In Flight": Status.WORKING,
            "Live": Status.WORKING, "Contingent": Status.WORKING, "Cancel Requested": Status.WORKING,
            "Replace Requested": Status.WORKING, "Filled": Status.FILLED, "Cancelled": Status.CANCELLED,
            "Expired": Status.EXPIRED, "Rejected": Status.REJECTED, "Removed": Status.CANCELLED,
            "Partially Removed": Status.CANCELLED}
ACTIONS = {Action.SELL_TO_OPEN: ("Sell to Open", "Credit"), Action.BUY_TO_CLOSE: ("Buy to Close", "Debit")}
HISTORY_PAGES = 10  # pages of order history searched for a client id (200 orders each)


@dataclass(frozen=True)
class Credentials:
    refresh_token: str
    client_secret: str
    access_token: str  # a token given as it is (SPX_WHEEL_TASTYTRADE_ACCESS_TOKEN), else bought with the two above

    def hide(self, text: str) -> str:
        for secret in (self.refresh_token, self.client_secret, self.access_token):
            if secret:
                text = text.replace(secret, "***")
        return text


class Unauthorized(Exception):
    pass


def tastytrade_settings(environ: Mapping[str, str]) -> tuple[str, Credentials, str | None]:
    """(the base URL, the credentials, the account number or None) from the environment."""
    def value(name: str) -> str:
        return environ.get(f"SPX_WHEEL_TASTYTRADE_{name}", "").strip()

    credentials = Credentials(value("REFRESH_TOKEN"), value("CLIENT_SECRET"), value("ACCESS_TOKEN"))
    if not credentials.access_token and not (credentials.refresh_token and credentials.client_secret):
        raise BadInput("the tastytrade broker needs SPX_WHEEL_TASTYTRADE_REFRESH_TOKEN and "
                       "SPX_WHEEL_TASTYTRADE_CLIENT_SECRET (your OAuth application's) in the environment")
    base = value("URL") or (SANDBOX if value("SANDBOX") in ("1", "true", "yes") else PRODUCTION)
    return base, credentials, value("ACCOUNT") or None


class TastytradeBroker:
    name = "tastytrade"
    instant = False

    def __init__(self, http: HttpClient, credentials: Credentials, account: str | None, version: str) -> None:
        self.http, self.credentials, self._account = http, credentials, account
        self.http.session.headers.update({"User-Agent": f"spx-wheel/{version}", "Accept": "application/json"})
        self._token = credentials.access_token

    # -- the protocol ------------------------------------------------------------------------------------
    def account(self) -> Account:
        data = self._data("GET", f"/accounts/{self.number}/balances", "the account's balances")
        return self._shaped("the balances", lambda: Account(
            float(data["net-liquidating-value"]), float(data["cash-balance"]),
            float(data["derivative-buying-power"]), float(data["maintenance-requirement"])))

    def positions(self) -> list[BrokerPosition]:
        items = self._data("GET", f"/accounts/{self.number}/positions", "the positions")["items"]
        return self._shaped("the positions", lambda: [
            BrokerPosition(p["symbol"], int(float(p["quantity"])) * (-1 if p["quantity-direction"] == "Short" else 1),
                           float(p["average-open-price"]))
            for p in items if p["instrument-type"] == "Equity Option" and _ours(p["symbol"])])

    def preview(self, ticket: Ticket) -> Preview:
        data = self._data("POST", f"/accounts/{self.number}/orders/dry-run", "a dry-run order", _body(ticket))

        def read() -> Preview:
            effect = data["buying-power-effect"]
            taken = float(effect["change-in-buying-power"])
            sign = -1 if effect.get("change-in-buying-power-effect") == "Credit" else 1
            warnings = tuple(self.credentials.hide(str(w.get("message", w))) for w in data.get("warnings") or [])
            return Preview(sign * taken, float(data["fee-calculation"]["total-fees"]), warnings)
        return self._shaped("the dry run", read)

    def place(self, ticket: Ticket) -> BrokerOrder:
        # once only: a request lost on its way back may have placed the order (the caller asks find first)
        data = self._data("POST", f"/accounts/{self.number}/orders", "the order", _body(ticket), tries=1)
        return self._order(data["order"] if "order" in data else data)

    def order(self, broker_id: str) -> BrokerOrder:
        return self._order(self._data("GET", f"/accounts/{self.number}/orders/{broker_id}", "an order's status"))

    def find(self, client_id: str) -> BrokerOrder | None:
        """The newest order carrying the client id (a replace makes a new order that keeps it): today's orders
        first, then the history, newest first."""
        def newest(items: list[dict[str, Any]]) -> BrokerOrder | None:
            ours = [i for i in items if i.get("external-identifier") == client_id]
            return self._order(max(ours, key=lambda i: int(i["id"]))) if ours else None

        found = newest(self._data("GET", f"/accounts/{self.number}/orders/live", "today's orders")["items"])
        for page in range(HISTORY_PAGES if found is None else 0):
            answer = self._call("GET", f"/accounts/{self.number}/orders", "the order history",
                                {"per-page": 200, "page-offset": page})
            found = self._shaped("the order history", lambda: newest(answer["data"]["items"]))
            if found is not None or page + 1 >= int(answer.get("pagination", {}).get("total-pages", 1)):
                break
        return found

    def cancel(self, broker_id: str) -> BrokerOrder:
        return self._order(self._data("DELETE", f"/accounts/{self.number}/orders/{broker_id}", "a cancel"))

    def replace(self, broker_id: str, ticket: Ticket) -> BrokerOrder:
        return self._order(self._data("PUT", f"/accounts/{self.number}/orders/{broker_id}", "a replace",
                                      _body(ticket), tries=1))

    # -- inside ------------------------------------------------------------------------------------------
    @property
    def number(self) -> str:
        if self._account is None:
            items = self._data("GET", "/customers/me/accounts", "the accounts")["items"]
            numbers = self._shaped("the accounts", lambda: [i["account"]["account-number"] for i in items])
            if len(numbers) != 1:
                raise BadInput(f"the Tastytrade login holds {len(numbers)} accounts: choose one with "
                               "SPX_WHEEL_TASTYTRADE_ACCOUNT")
            self._account = numbers[0]
        return self._account

    def _order(self, item: dict[str, Any]) -> BrokerOrder:
        def read() -> BrokerOrder:
            status = STATUSES.get(item["status"])
            if status is None:
                raise KeyError(f"status {item['status']!r}")
            fills = [f for leg in item["legs"] for f in leg.get("fills") or []]
            filled = sum(int(float(f["quantity"])) for f in fills)
            price = (sum(float(f["fill-price"]) * int(float(f["quantity"])) for f in fills) / filled
                     if filled else None)
            return BrokerOrder(str(item["id"]), item.get("external-identifier"), status, float(item["price"]),
                               filled, price, self.credentials.hide(str(item.get("reject-reason") or "")))
        return self._shaped("an order", read)

    def _shaped(self, what: str, read: Callable[[], T]) -> T:
        try:
            return read()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"Tastytrade answered {what} in a shape spx-wheel does not know ({exc.__class__.__name__}"
                            f": {self.credentials.hide(str(exc))[:120]}): nothing more was sent") from None

    def _data(self, method: str, path: str, what: str, body: Any = None, tries: int | None = None) -> Any:
        answer = self._call(method, path, what, None, body, tries)
        return self._shaped(what, lambda: answer["data"])

    def _call(self, method: str, path: str, what: str, params: dict[str, Any] | None = None, body: Any = None,
              tries: int | None = None) -> Any:
        for renewed in (False, True):
            if not self._token:
                self._login()
            self.http.session.headers["Authorization"] = f"Bearer {self._token}"
            try:
                return self.http.request(method, path, params, what, self._parse, body=body, tries=tries)
            except Unauthorized:
                if renewed or not self.credentials.refresh_token:
                    break
                self._token = ""
        raise FetchError("Tastytrade refused the credentials (HTTP 401): check SPX_WHEEL_TASTYTRADE_REFRESH_TOKEN "
                         "and SPX_WHEEL_TASTYTRADE_CLIENT_SECRET (sandbox and production tokens differ)", 401)

    def _login(self) -> None:
        self.http.session.headers.pop("Authorization", None)
        body = {"grant_type": "refresh_token", "refresh_token": self.credentials.refresh_token,
                "client_secret": self.credentials.client_secret}
        try:
            answer = self.http.request("POST", "/oauth/token", None, "an access token", self._parse, body=body)
        except Unauthorized:
            raise FetchError("Tastytrade refused the refresh token (HTTP 401): check "
                             "SPX_WHEEL_TASTYTRADE_REFRESH_TOKEN and SPX_WHEEL_TASTYTRADE_CLIENT_SECRET", 401) from None
        self._token = self._shaped("the access token", lambda: str(answer["access_token"]))

    def _parse(self, response: requests.Response) -> Any:
        if response.status_code == 401:
            raise Unauthorized()
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 400:
            error = answer.get("error") if isinstance(answer, dict) else None
            reason = (error.get("message") or error.get("code")) if isinstance(error, dict) else None
            raise FetchError(self.credentials.hide(f"Tastytrade refused the request (HTTP {response.status_code}"
                                                   f"{': ' + str(reason)[:200] if reason else ''})"),
                             response.status_code)
        if not isinstance(answer, dict):
            raise DataError("Tastytrade answered with something that is not a JSON object: nothing more was sent")
        return answer


def _ours(symbol: str) -> bool:
    """An SPX or XSP put (the account's other holdings are not the book's)."""
    try:
        contract_of_occ(symbol)
    except DataError:
        return False
    return True


def _body(ticket: Ticket) -> dict[str, Any]:
    action, effect = ACTIONS[ticket.action]
    return {"time-in-force": "GTC" if ticket.time_in_force == "gtc" else "Day", "order-type": "Limit",
            "price": f"{ticket.limit:.2f}", "price-effect": effect, "external-identifier": ticket.client_id,
            "source": "spx-wheel", "legs": [{"instrument-type": "Equity Option", "symbol": ticket.symbol,
                                             "quantity": ticket.quantity, "action": action}]}
