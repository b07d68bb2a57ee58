"""A fake Tastytrade REST server for tests, serving the documented shapes (developer.tastytrade.com: OAuth token,
accounts, balances, positions, dry-run and live orders with their legs and fills, cancel, replace, the `{"error":
{...}}` body of a refusal, pagination of the order history).

It keeps one account. An order's fate is set by `mode`: "fill" (a sale fills at its limit when the limit is at or
under `bid`, a buy-back when at or over `ask`; else it works), "partial" (half fills, the rest works), "reject".
`failures` is a queue of statuses the next requests get instead of an answer; `outage` answers 503 to all;
`shape` replaces the next answer to a path with another body. Access tokens expire when `expire()` is called.
Every request is logged with its headers and body."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from werkzeug.wrappers import Request, Response

ACCOUNT = "5WX00042"
WORKING = ("Received", "Routed", "Live")


class FakeTastytrade:
    def __init__(self, refresh_token: str = "refresh-secret-1", client_secret: str = "client-secret-1",
                 cash: float = 500_000.0, accounts: tuple[str, ...] = (ACCOUNT,)) -> None:
        self.refresh_token, self.client_secret, self.accounts = refresh_token, client_secret, accounts
        self.cash, self.mode, self.bid, self.ask = cash, "fill", 0.0, 1e9
        self.tokens: set[str] = set()
        self.orders: dict[int, dict[str, Any]] = {}
        self.log: list[dict[str, Any]] = []
        self.failures: list[int] = []
        self.outage = False
        self.shape: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.next_id = 1000
        self.latency = 0.0  # seconds before each answer

    def expire(self) -> None:
        self.tokens.clear()

    # -- the server ----------------------------------------------------------------------------------------
    def __call__(self, request: Request) -> Response:
        time.sleep(self.latency)
        with self.lock:
            body = request.get_data(as_text=True)
            self.log.append({"method": request.method, "path": request.path, "headers": dict(request.headers),
                             "body": body, "args": dict(request.args)})
            if self.outage:
                return self.error(503, "service_unavailable", "down for maintenance")
            if self.failures:
                status = self.failures.pop(0)
                response = self.error(status, "busy" if status == 429 else "server_error", "try again")
                if status == 429:
                    response.headers["Retry-After"] = "0"
                return response
            if not request.headers.get("User-Agent", "").count("/"):
                return self.error(401, "invalid_user_agent", "a User-Agent of the form product/version is required")
            if request.path == "/oauth/token":
                return self.token(json.loads(body or "{}"))
            if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
                return self.error(401, "unauthorized", "the access token is invalid or expired")
            if request.path in self.shape:
                return self.json(self.shape.pop(request.path))
            return self.route(request, json.loads(body) if body else None)

    @staticmethod
    def json(body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")

    def error(self, status: int, code: str, message: str) -> Response:
        return self.json({"error": {"code": code, "message": message}}, status)

    def token(self, form: dict[str, Any]) -> Response:
        if (form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token
                or form.get("client_secret") != self.client_secret):
            return self.json({"error": "invalid_grant", "error_description": "the refresh token is invalid"}, 401)
        token = f"access-{len(self.log)}"
        self.tokens.add(token)
        return self.json({"access_token": token, "token_type": "Bearer", "expires_in": 900})

    def route(self, request: Request, body: Any) -> Response:
        parts = request.path.strip("/").split("/")
        if parts == ["customers", "me", "accounts"]:
            return self.json({"data": {"items": [{"account": {"account-number": n, "nickname": "Individual",
                                                              "account-type-name": "Individual", "margin-or-cash":
                                                              "Margin", "is-closed": False}, "authority-level":
                                                  "owner"} for n in self.accounts]}, "context": request.path})
        if len(parts) < 3 or parts[0] != "accounts" or parts[1] not in self.accounts:
            return self.error(404, "not_found", "no such account")
        rest = parts[2:]
        if rest == ["balances"]:
            return self.json({"data": self.balances(), "context": request.path})
        if rest == ["positions"]:
            return self.json({"data": {"items": self.positions()}, "context": request.path})
        if rest == ["orders", "dry-run"] and request.method == "POST":
            return self.json({"data": self.dry_run(body), "context": request.path})
        if rest == ["orders"] and request.method == "POST":
            order = self.place(body)
            return self.json({"data": {"order": order, **self.dry_run(body)}, "context": request.path}, 201)
        if rest == ["orders", "live"]:
            # the fake's whole life is one trading day: every order is today's
            return self.json({"data": {"items": [self.shown(o) for o in self.orders.values()]},
                              "context": request.path})
        if rest == ["orders"]:
            return self.history(request)
        if len(rest) == 2 and rest[0] == "orders" and rest[1].isdigit() and int(rest[1]) in self.orders:
            order = self.orders[int(rest[1])]
            if request.method == "DELETE":
                if order["status"] not in WORKING:
                    return self.error(422, "order_not_cancellable", "the order is not cancellable")
                order["status"] = "Cancelled"
            elif request.method == "PUT":
                if order["status"] not in WORKING:
                    return self.error(422, "order_not_editable", "the order is not editable")
                order["status"] = "Cancelled"
                return self.json({"data": self.place({**body, "replaces": order["id"]}), "context": request.path})
            return self.json({"data": self.shown(order), "context": request.path})
        return self.error(404, "not_found", f"no route {request.method} {request.path}")

    # -- the account -------------------------------------------------------------------------------------
    def filled(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return [(o, f) for o in self.orders.values() for f in o["legs"][0]["fills"]]

    def held(self) -> dict[str, tuple[int, float]]:
        """Each symbol: (contracts short, the average price they were opened at)."""
        sold: dict[str, list[float]] = {}  # contracts sold, dollars a share received in all, contracts bought back
        for order, fill in self.filled():
            n, received, back = sold.setdefault(order["legs"][0]["symbol"], [0, 0.0, 0])
            quantity = int(fill["quantity"])
            if order["legs"][0]["action"] == "Sell to Open":
                sold[order["legs"][0]["symbol"]] = [n + quantity, received + quantity * float(fill["fill-price"]),
                                                    back]
            else:
                sold[order["legs"][0]["symbol"]] = [n, received, back + quantity]
        return {symbol: (int(n - back), received / n if n else 0.0) for symbol, (n, received, back) in sold.items()}

    def positions(self) -> list[dict[str, Any]]:
        return [{"account-number": self.accounts[0], "symbol": symbol, "instrument-type": "Equity Option",
                 "underlying-symbol": symbol[:6].strip(), "quantity": n, "quantity-direction": "Short",
                 "close-price": "0.0", "average-open-price": f"{price:.4f}", "multiplier": 100,
                 "cost-effect": "Credit", "is-suppressed": False, "is-frozen": False}
                for symbol, (n, price) in sorted(self.held().items()) if n]

    def balances(self) -> dict[str, Any]:
        received = sum((1 if o["legs"][0]["action"] == "Sell to Open" else -1) * int(f["quantity"]) *
                       float(f["fill-price"]) * 100 for o, f in self.filled())
        short = sum(n for n, _ in self.held().values())
        cash = self.cash + received
        return {"account-number": self.accounts[0], "cash-balance": f"{cash:.2f}",
                "net-liquidating-value": f"{cash - 1000 * short:.2f}", "equity-buying-power": f"{cash:.2f}",
                "derivative-buying-power": f"{cash - 60_000 * short:.2f}",
                "maintenance-requirement": f"{60_000 * short:.2f}", "margin-equity": f"{cash:.2f}"}

    def dry_run(self, body: dict[str, Any]) -> dict[str, Any]:
        leg = body["legs"][0]
        quantity = int(leg["quantity"])
        sale = leg["action"] == "Sell to Open"
        warnings = [] if sale or leg["symbol"] in self.held() else [
            {"code": "no_position", "message": "there is no position to close"}]
        return {"buying-power-effect": {"change-in-buying-power": f"{60_000 * quantity:.2f}",
                                        "change-in-buying-power-effect": "Debit" if sale else "Credit",
                                        "current-buying-power": self.balances()["derivative-buying-power"],
                                        "current-buying-power-effect": "Credit", "effect": "Debit"},
                "fee-calculation": {"regulatory-fees": "0.04", "clearing-fees": "0.1", "commission": "1.0",
                                    "proprietary-index-option-fees": "0.65", "total-fees": f"{1.79 * quantity:.2f}",
                                    "total-fees-effect": "Debit"},
                "warnings": warnings}

    def place(self, body: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        leg = body["legs"][0]
        order = {"id": self.next_id, "account-number": self.accounts[0], "time-in-force": body["time-in-force"],
                 "order-type": body["order-type"], "size": str(leg["quantity"]), "underlying-symbol":
                 leg["symbol"][:6].strip(), "underlying-instrument-type": "Index", "price": body["price"],
                 "price-effect": body["price-effect"], "status": "Received", "cancellable": True, "editable": True,
                 "edited": False, "external-identifier": body.get("external-identifier"),
                 "received-at": "2026-07-10T19:55:00.000+00:00", "updated-at": "2026-07-10T19:55:00.000+00:00",
                 "legs": [{"instrument-type": leg["instrument-type"], "symbol": leg["symbol"],
                           "quantity": int(leg["quantity"]), "remaining-quantity": int(leg["quantity"]),
                           "action": leg["action"], "fills": []}]}
        self.orders[order["id"]] = order
        self.work(order)
        return self.shown(order)

    def work(self, order: dict[str, Any]) -> None:
        """What the market does with an order just placed."""
        leg, price = order["legs"][0], float(order["price"])
        if self.mode == "reject":
            order["status"], order["reject-reason"] = "Rejected", "Insufficient buying power"
            return
        crosses = price <= self.bid if leg["action"] == "Sell to Open" else price >= self.ask
        if not crosses:
            order["status"] = "Live"
            return
        part = leg["quantity"] // 2 if self.mode == "partial" and leg["quantity"] > 1 else leg["quantity"]
        leg["fills"].append({"fill-id": f"f{order['id']}", "ext-exec-id": f"x{order['id']}", "quantity": str(part),
                             "fill-price": order["price"], "filled-at": "2026-07-10T19:55:01.000+00:00",
                             "destination-venue": "CBOE"})
        leg["remaining-quantity"] = leg["quantity"] - part
        order["status"] = "Filled" if part == leg["quantity"] else "Live"

    @staticmethod
    def shown(order: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(order))

    def history(self, request: Request) -> Response:
        per_page, offset = int(request.args.get("per-page", 10)), int(request.args.get("page-offset", 0))
        items = sorted(self.orders.values(), key=lambda o: -o["id"])
        pages = max(1, -(-len(items) // per_page))
        return self.json({"data": {"items": [self.shown(o) for o in items[offset * per_page:(offset + 1) * per_page]]},
                          "api-version": "v1", "context": request.path,
                          "pagination": {"per-page": per_page, "page-offset": offset, "item-offset": offset * per_page,
                                         "total-items": len(items), "total-pages": pages, "current-item-count":
                                         len(items[offset * per_page:(offset + 1) * per_page])}})
