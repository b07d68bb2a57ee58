"""Files a careful adversary would import: each is refused in one line naming the file (and the line where a row
is at fault), without a traceback, without waiting on it, without echoing its content, and nothing is stored."""

import datetime as dt
import gzip
import os
from pathlib import Path

import pytest

import data.chain_files
from data.chain_files import load_chain
from data.errors import BadInput
from trading.cli import cli

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chains"
DATASHOP = (FIXTURES / "datashop_UnderlyingOptionsEODCalcs_2024-01-02.csv").read_text().splitlines()
HEADER = DATASHOP[0].split(",")
TODAY = dt.date(2026, 12, 4)


def datashop(tmp_path, name="hostile.csv", **changes):
    """The DataShop fixture with fields of its line 3 (the SPX 4500 put) changed."""
    row = DATASHOP[2].split(",")
    for field, value in changes.items():
        row[HEADER.index(field)] = value
    path = tmp_path / name
    path.write_text("\n".join([*DATASHOP[:2], ",".join(row), *DATASHOP[3:]]) + "\n")
    return path


def refused(path, today=TODAY):
    with pytest.raises(BadInput) as caught:
        load_chain(path, today=today)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize("changes, reason", [
    ({"strike": "nan"}, "strike nan outside (1, 1e+06]"),
    ({"ask_eod": "inf"}, "a price outside [0, 100000]"),
    ({"bid_eod": "1e300", "ask_eod": "2e300"}, "a price outside [0, 100000] (bid 1e+300"),
    ({"implied_volatility_1545": "inf"}, "implied volatility inf outside [0, 1000]"),
    ({"implied_volatility_1545": "-0.2"}, "implied volatility -0.2 outside [0, 1000]"),
    ({"delta_1545": "nan"}, None),  # a missing delta is allowed: the estimate fills it
    ({"delta_1545": "-7"}, "delta -7 outside [-1, 1]"),
    ({"strike": "1e20"}, "strike 1e+20 outside (1, 1e+06]"),
    ({"underlying_bid_eod": "-4742.83", "underlying_ask_eod": "-4742.83", "active_underlying_price_1545": "-1"},
     "index level -1 outside (1, 1e+06]"),
    ({"quote_date": "2030-01-02"}, "quote date 2030-01-02 is not an NYSE session from 1985-01-01 to today"),
    ({"quote_date": "9999-01-04"}, "quote date 9999-01-04 is not an NYSE session"),
    ({"quote_date": "0001-01-03"}, "quote date 0001-01-03 is not an NYSE session"),
    ({"quote_date": "1900-01-03"}, "quote date 1900-01-03 is not an NYSE session"),
    ({"quote_date": "2024-01-07"}, "quote date 2024-01-07 is not an NYSE session"),  # a Sunday
    ({"quote_date": "2026-12-07"}, "quote date 2026-12-07 is not an NYSE session"),  # after TODAY
    ({"root": "SP\0X"}, "a root that is not 1 to 6 capital letters"),
    ({"root": "<script>"}, "a root that is not 1 to 6 capital letters"),
    ({"root": "=HYPERLINK(\"x\")"}, "a root that is not 1 to 6 capital letters"),
])
def test_a_number_or_a_day_that_cannot_be_is_refused_at_its_line(tmp_path, changes, reason):
    path = datashop(tmp_path, **changes)
    if reason is None:
        assert len(load_chain(path, today=TODAY)[1]) == 4
        return
    message = refused(path)
    assert message.startswith(f"{path}, line 3: {reason}"), message
    assert "<script>" not in message and "HYPERLINK" not in message


def test_an_expiry_before_its_quote_date_is_left_out(tmp_path):
    chain = load_chain(datashop(tmp_path, expiration="2023-12-29"), today=TODAY)[1]
    assert len(chain) == 3 and (chain["expiry"] >= chain["quote_date"]).all()


def test_an_option_quoted_twice_a_day_is_refused(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("\n".join([*DATASHOP, DATASHOP[2].replace(",21.8000,", ",21.7000,")]) + "\n")
    assert refused(path).startswith(f"{path}, line 3: the same option (SPX 2024-02-16 P 4500) is quoted twice")


def test_what_is_not_a_regular_file_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    assert refused(fifo) == f"{fifo}: not a regular file"  # a FIFO with no writer: opened without blocking
    for device in ("/dev/zero", "/dev/urandom"):
        link = tmp_path / Path(device).name
        link.symlink_to(device)
        assert refused(link) == f"{link}: not a regular file"
    assert refused(tmp_path) == f"{tmp_path}: not a regular file"


def test_a_file_is_never_echoed(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$y$j9T$secrethash:19700:0:99999:7:::\n")
    link = tmp_path / "chain.csv"
    link.symlink_to(secret)
    assert "secrethash" not in refused(link) and "root:" not in refused(link)
    cboe_like = tmp_path / "quotes.csv"  # recognised as the Cboe layout, then malformed: no field is quoted
    cboe_like.write_text("Standard & Poors 500 Index,Last: 4136.25\nDate: secrethash 13:49,Bid: 1\nx,y\n")
    assert "secrethash" not in refused(cboe_like)


def test_a_gzip_bomb_stops_at_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(data.chain_files, "MAX_TEXT_BYTES", 1 << 20)
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(DATASHOP[0].encode() + b"\n" + b"\0" * (64 << 20), 9))
    assert refused(bomb) == f"{bomb}: decompresses to more than 1 MB"
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(gzip.compress("\n".join(DATASHOP).encode())[:-20])
    assert refused(truncated) == f"{truncated}: a truncated gzip file"


@pytest.mark.parametrize("name, text, reason", [
    ("numeric_dates.csv",  # DeltaNeutral with dates as numbers: the date parser gets no strings
     "underlying,underlying_last, exchange,optionroot,optionext,type,expiration,quotedate,strike,last,bid,ask,"
     "volume,openinterest,impliedvol,delta,gamma,theta,vega,optionalias\n"
     "SPX,1005.75,W,SPX081122P00900000,,put,20081122,20081104,900,0,20.1,21.0,0,0,0.5,-0.2,0,0,0,x\n",
     "malformed, read as DeltaNeutral L2"),
    ("huge_field.csv",  # a 1 MB field, past the csv module's limit
     "Standard & Poors 500 Index,Last: 4136.25\nDate: 6 May 2023, 8:40 PM EDT,Bid: 1\n"
     "Expiration Date,Calls," + "x" * (1 << 20) + "\n", "malformed, read as Cboe delayed quotes"),
    ("huge_stamp.csv",  # a Polygon flat file whose window_start overflows int64
     "ticker,volume,open,close,high,low,window_start,transactions\n"
     "O:SPX240119P04600000,312,4.9,5.2,5.6,4.7,99999999999999999999999,88\n", "malformed, read as Polygon flat file"),
])
def test_malformed_layouts_are_one_line(tmp_path, name, text, reason):
    path = tmp_path / name
    path.write_text(text)
    message = refused(path)
    assert message.startswith(f"{path}: {reason}") and len(message) < len(str(path)) + 200


def test_a_name_with_a_newline_is_one_line(tmp_path):
    path = tmp_path / "two\nlines.csv"
    path.write_text("date,price\n")
    assert refused(path).startswith(str(tmp_path) + "/two\\nlines.csv: not a chain layout")


def test_import_of_hostile_files_stores_nothing_and_the_good_one_lands(runner, tmp_path):
    db = tmp_path / "h.db"
    bad = [datashop(tmp_path, "inf.csv", ask_eod="inf"), datashop(tmp_path, "late.csv", quote_date="2030-01-02")]
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    good = FIXTURES / "datashop_UnderlyingOptionsEODCalcs_2024-01-02.csv"
    result = runner.invoke(cli, ["import", *map(str, bad), str(fifo), str(good), "--db", str(db)])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 3
    quote = runner.invoke(cli, ["quote", "--source", "chains", "--as-of", "2024-01-02", "--expiry", "2024-02-16",
                                "--strike", "4500", "--json", "--db", str(db)])
    assert quote.exit_code == 0, quote.output
    assert '"bid": 21.8' in quote.stdout and "Infinity" not in quote.stdout


def test_model_check_on_a_store_of_puts_only(runner, tmp_path):
    db = tmp_path / "puts.db"
    puts_only = tmp_path / "puts.csv"
    puts_only.write_text("\n".join([DATASHOP[0], *(line for line in DATASHOP[1:] if ",P," in line)]) + "\n")
    assert runner.invoke(cli, ["import", str(puts_only), "--db", str(db)]).exit_code == 0
    result = runner.invoke(cli, ["model-check", "--db", str(db)])
    assert result.exit_code == 0, result.output
