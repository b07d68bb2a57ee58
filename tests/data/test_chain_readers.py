"""The layouts added for `spx-wheel import` (OptionsDX, Cboe DataShop EOD with and without Calcs, Polygon flat
files), on small fixtures written in the vendors' documented layouts (tests/fixtures/chains), and the files a
reader must refuse whole, naming the file and the line."""

import datetime as dt
import gzip
import math
from pathlib import Path

import pytest

from data.chain_files import SHIPPED_CHAINS, load_chain
from data.errors import BadInput

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chains"
D = dt.date


def put(chain, root, expiry, strike, day=None):
    rows = chain[(chain["root"] == root) & (chain["expiry"] == expiry) & (chain["right"] == "P")
                 & (chain["strike"] == strike) & ((chain["quote_date"] == day) if day else True)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_optionsdx_wide_rows_give_a_call_and_a_put_each_with_the_listed_root():
    layout, chain = load_chain(FIXTURES / "optionsdx_spx_eod_202301.txt")
    assert layout == "OptionsDX EOD" and len(chain) == 10  # five lines (one blank skipped), two options each
    assert set(chain["snapshot"]) == {"close"}  # QUOTE_TIME_HOURS 16.0
    weekly = put(chain, "SPXW", D(2023, 2, 15), 3600.0)  # a Wednesday: PM SPXW
    assert (weekly["bid"], weekly["ask"], weekly["delta"], weekly["spot"]) == (39.9, 41.1, -0.21954, 3824.14)
    monthly = put(chain, "SPX", D(2023, 2, 17), 3600.0, D(2023, 1, 4))  # the third Friday: AM SPX
    assert (monthly["bid"], monthly["ask"], monthly["iv"]) == (36.1, 37.2, 0.24692)
    call = chain[(chain["right"] == "C") & (chain["expiry"] == D(2023, 2, 17)) & (chain["strike"] == 3600.0)
                 & (chain["quote_date"] == D(2023, 1, 3))].iloc[0]
    assert (call["bid"], call["ask"]) == (254.8, 259.3) and math.isnan(call["iv"])  # an empty field


def test_datashop_takes_the_eod_quote_and_the_1545_calcs():
    layout, chain = load_chain(FIXTURES / "datashop_UnderlyingOptionsEODCalcs_2024-01-02.csv")
    assert layout == "Cboe DataShop EOD" and len(chain) == 4
    am = put(chain, "SPX", D(2024, 2, 16), 4500.0)
    assert (am["bid"], am["ask"], am["iv"], am["delta"], am["last"], am["spot"]) == (
        21.8, 22.4, 0.1598, -0.1513, 22.4, 4742.83)
    pm = put(chain, "SPXW", D(2024, 2, 16), 4500.0)
    assert (pm["bid"], pm["ask"]) == (21.9, 22.5) and math.isnan(pm["last"])  # no trade that day


def test_datashop_without_calcs_falls_back_to_the_1545_quote():
    _, chain = load_chain(FIXTURES / "datashop_UnderlyingOptionsEODQuotes_2016-03-01.csv")
    assert len(chain) == 3 and chain["iv"].isna().all() and chain["delta"].isna().all()
    empty_eod = put(chain, "SPXW", D(2016, 4, 8), 1850.0)
    assert (empty_eod["bid"], empty_eod["ask"]) == (17.0, 17.8)
    assert put(chain, "SPX", D(2016, 4, 15), 1900.0)["bid"] == 26.2


def test_polygon_flat_files_keep_the_spx_rows_with_their_close_as_the_last_trade():
    layout, chain = load_chain(FIXTURES / "polygon_flatfile_2024-01-02.csv")
    assert layout == "Polygon flat file"
    assert sorted(chain["root"]) == ["SPX", "SPXW", "SPXW"]  # AAPL and SPY left out
    assert set(chain["quote_date"]) == {D(2024, 1, 2)}  # window_start: 2024-01-02 00:00 New York
    row = put(chain, "SPXW", D(2024, 1, 19), 4700.0)
    assert row["last"] == 8.85 and math.isnan(row["bid"]) and math.isnan(row["spot"])


def _bad(tmp_path, source, line, old, new, gz=False):
    text = (gzip.decompress(source.read_bytes()) if gz else source.read_bytes()).decode().splitlines()
    assert old in text[line - 1]
    text[line - 1] = text[line - 1].replace(old, new, 1)
    path = tmp_path / ("bad_" + source.name.removesuffix(".gz"))
    path.write_text("\n".join(text) + "\n")
    return path


@pytest.mark.parametrize("source, line, old, new, gz, message", [
    (FIXTURES / "optionsdx_spx_eod_202301.txt", 3, "39.900000, 41.100000", "41.900000, 41.100000", False,
     "line 3: the ask 41.1 is below the bid 41.9"),
    (FIXTURES / "datashop_UnderlyingOptionsEODCalcs_2024-01-02.csv", 3, ",21.8000,", ",-21.8000,", False,
     "line 3: a price below zero (bid -21.8, ask 22.4)"),
    (FIXTURES / "polygon_flatfile_2024-01-02.csv", 4, "P04700000", "P04702500", False,
     "line 4: strike 4702.5 is off the SPXW grid (SPX 5 points, XSP 0.5)"),
    (SHIPPED_CHAINS[0], 500, ",1500,0.05,0,0.05,", ",1500,0.05,0.10,0.05,", True,  # the real 2018 file
     "line 500: the ask 0.05 is below the bid 0.1"),
])
def test_a_row_that_fails_sanity_names_the_file_and_line(tmp_path, source, line, old, new, gz, message):
    path = _bad(tmp_path, source, line, old, new, gz)
    with pytest.raises(BadInput) as caught:
        load_chain(path)
    assert str(caught.value) == f"{path}, {message}; nothing imported from it"


def test_unknown_and_malformed_files_are_refused(tmp_path):
    unknown = tmp_path / "notes.csv"
    unknown.write_text("date,price\n2024-01-02,1\n")
    with pytest.raises(BadInput, match=r"notes.csv: not a chain layout spx-wheel reads \(OptionsDX, ") as refused:
        load_chain(unknown)
    assert "date,price" not in str(refused.value)  # the file's content is never echoed
    lines = (FIXTURES / "datashop_UnderlyingOptionsEODQuotes_2016-03-01.csv").read_text().splitlines()
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join([lines[0], lines[1].replace("2016-04-15", "someday")]) + "\n")
    with pytest.raises(BadInput, match=r"broken.csv: malformed, read as Cboe DataShop EOD"):
        load_chain(broken)
    only_others = tmp_path / "flat.csv"
    only_others.write_text("ticker,volume,open,close,high,low,window_start,transactions\n"
                           "O:SPY240119P00470000,9012,2.1,2.35,2.6,1.9,1704171600000000000,1288\n")
    with pytest.raises(BadInput, match=r"flat.csv: no SPX or XSP option in it, read as Polygon flat file"):
        load_chain(only_others)
