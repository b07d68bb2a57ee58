"""The project's tickers (Polygon's spelling, `O:SPXW261224P06040000`) and the brokers' OCC symbols
(`SPXW  261224P06040000`: the root padded to six, the expiry's date, P, the strike in thousandths), both ways.
The root is the contract's, chosen by the expiry's listing when the contract was; a broker's symbol is accepted
only when its root is listed on its expiry."""

from __future__ import annotations

import re

from data.calendar import is_session
from data.contracts import OptionContract, parse_ticker
from data.errors import DataError
from data.listings import is_monthly, root_for_expiry, ticker_date

_OCC = re.compile(r"^([A-Z]{1,6}) *(\d{6})([CP])(\d{8})$")


def occ_symbol(contract: OptionContract) -> str:
    """The contract as brokers spell it."""
    return (f"{contract.root:<6}{ticker_date(contract.root, contract.expiry):%y%m%d}P"
            f"{round(contract.strike * 1000):08d}")


def contract_of_occ(symbol: str) -> OptionContract:
    """The put a broker's OCC symbol names; DataError for a symbol that is not an SPX or XSP put listed on its
    date (an SPX root off the monthly cycle, a date that is no session)."""
    match = _OCC.match(symbol.strip())
    if match is None or match.group(3) != "P":
        raise DataError(f"the broker reports {symbol!r}, which is not an SPX or XSP put's OCC symbol")
    root = match.group(1)
    try:
        contract = parse_ticker(f"O:{root}{match.group(2)}P{match.group(4)}")
    except ValueError:
        raise DataError(f"the broker reports {symbol!r}: root {root} is not an SPX or XSP option root") from None
    listed = (is_session(contract.expiry) and occ_symbol(contract).replace(" ", "") == symbol.replace(" ", "") and
              (root in ("SPXW", "XSP") or (root == "SPX" and is_monthly(contract.expiry)) or
               root == root_for_expiry(contract.expiry)))
    if not listed:
        raise DataError(f"the broker reports {symbol!r}, but {root} lists no expiry dated {match.group(2)} (YYMMDD)")
    return contract
