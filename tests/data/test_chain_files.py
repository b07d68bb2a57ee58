"""The chain readers on the real vendor files shipped in data/raw: counts, dates, snapshots, and rows checked by hand
against the raw text (quoted in each case)."""

import datetime as dt
import gzip
import math

import pytest

from data.chain_files import REAL_CHAINS, SHIPPED_CHAINS, parity_forwards, read_chain, session_of
from data.locale_dates import LANGUAGES, month_words, written_moment
from data.errors import BadInput
from data.market import load_bundled


def row(chain, root, expiry, right, strike, quote_date=None):
    found = chain[(chain["root"] == root) & (chain["expiry"] == expiry) & (chain["right"] == right)
                  & (chain["strike"] == strike)]
    if quote_date is not None:
        found = found[found["quote_date"] == quote_date]
    assert len(found) == 1
    return found.iloc[0]


# file, rows (calls and puts), quote dates, snapshot, stated index level
LAYOUTS = [
    ("cboe_quotedata_2017-12-28_old_layout.dat.gz", 142, 1, "intraday", 2684.79),
    ("cboe_quotedata_2019-02-08_old_layout.dat.gz", 132, 1, "close", 2707.88),
    ("cboe_quotedata_2019-05-13.csv.gz", 13522, 1, "overnight", 2881.4),  # less the 422 rows of Friday 05-10, expired
    ("cboe_quotedata_2020-09-04.csv.gz", 18738, 1, "close", 3426.96),
    ("cboe_quotedata_2022-02-04.csv.gz", 20514, 1, "close", 4500.5298),
    ("cboe_quotedata_2022-03-23.csv.gz", 19002, 1, "intraday", 4479.0898),
    ("cboe_quotedata_2022-06-10.csv.gz", 19670, 1, "close", 3900.8601),
    ("cboe_quotedata_2022-07-12.csv.gz", 19378, 1, "intraday", 3856.28),
    ("cboe_quotedata_2023-05-05.csv.gz", 17360, 1, "close", 4136.25),
    ("cboe_quotedata_2024-02-13.csv.gz", 21758, 1, "overnight", 5021.8398),  # less the 362 rows of Monday 02-12, expired
    ("deltaneutral_spx_200811.csv.gz", 30588, 18, "close", None),
    ("ivolatility_spx_201101.csv.gz", 7896, 4, "close", None),
]


@pytest.mark.parametrize("name,rows,days,snapshot,level", LAYOUTS)
def test_every_shipped_layout_reads_whole(name, rows, days, snapshot, level):
    chain = read_chain(REAL_CHAINS / name)
    assert len(chain) == rows
    assert chain["quote_date"].nunique() == days
    assert set(chain["snapshot"]) == {snapshot}
    assert set(chain["right"]) == {"C", "P"}
    assert (chain["expiry"] >= chain["quote_date"] - dt.timedelta(days=3)).all()
    if level is not None:
        assert set(chain["spot"]) == {level}


def test_cboe_2022_row():
    # Fri Jul 15 2022,SPXW220715C03600000,...,3600.00,SPXW220715P03600000,36.07,15.07,35.9,36.5,188,0.3022,-0.1781,...
    chain = read_chain(REAL_CHAINS / "cboe_quotedata_2022-06-10.csv.gz")
    put = row(chain, "SPXW", dt.date(2022, 7, 15), "P", 3600.0)
    assert (put["quote_date"], put["bid"], put["ask"], put["iv"], put["delta"]) == \
        (dt.date(2022, 6, 10), 35.9, 36.5, 0.3022, -0.1781)
    call = row(chain, "SPXW", dt.date(2022, 7, 15), "C", 3600.0)
    assert (call["bid"], call["ask"]) == (341.1, 347.6)


def test_cboe_old_layout_rows_name_their_contract_in_parentheses():
    # 18 Dec 2500.00 (SPX1821L2500),277.2,-0.2,272.2,278.8,7,12727,18 Dec 2500.00 (SPX1821X2500),86.25,-1.35,83.8,88.5
    chain = read_chain(REAL_CHAINS / "cboe_quotedata_2017-12-28_old_layout.dat.gz")
    put = row(chain, "SPX", dt.date(2018, 12, 21), "P", 2500.0)
    assert (put["bid"], put["ask"], put["quote_date"]) == (83.8, 88.5, dt.date(2017, 12, 28))
    assert math.isnan(put["iv"]) and math.isnan(put["delta"])
    # 12/20/2019,SPX191220C02500000,301.8,304.4,2500.0,SPX191220P02500000,87.8,88.9
    chain = read_chain(REAL_CHAINS / "cboe_quotedata_2019-02-08_old_layout.dat.gz")
    assert (row(chain, "SPX", dt.date(2019, 12, 20), "P", 2500.0)[["bid", "ask"]] == [87.8, 88.9]).all()


def test_cboe_2024_layout_without_greeks():
    # Fri Mar 15 2024,SPX240315C04800000,...,4800,SPX240315P04800000,14.85,1.45,15.8,16,4954,92986
    put = row(read_chain(REAL_CHAINS / "cboe_quotedata_2024-02-13.csv.gz"), "SPX", dt.date(2024, 3, 15), "P", 4800.0)
    assert (put["bid"], put["ask"]) == (15.8, 16.0) and math.isnan(put["iv"])


def test_deltaneutral_saturday_monthlies_move_to_their_friday():
    # SPX,749.33,*,SYG081220P00600000,,put,12/20/2008,11/20/2008,600,16.4,14.8,18.5,9602,192026,0.9273,-0.1583,...
    chain = read_chain(REAL_CHAINS / "deltaneutral_spx_200811.csv.gz")
    put = row(chain, "SYG", dt.date(2008, 12, 19), "P", 600.0, dt.date(2008, 11, 20))
    assert (put["bid"], put["ask"], put["iv"], put["delta"], put["spot"]) == (14.8, 18.5, 0.9273, -0.1583, 749.33)
    assert {"JXA", "JXB", "JXD", "SPX", "SPQ"} <= set(chain["root"])  # the 2008 weekly and strike-range roots
    assert not any(d.weekday() == 5 for d in chain["expiry"])


def test_ivolatility_row():
    # SPX,CBOE,...,01/05/2011,1276.56,SPX   110219P01200000,02/18/2011,1200.0,P,E,8.6,7.5,8.05,0.0,0.190241...
    chain = read_chain(REAL_CHAINS / "ivolatility_spx_201101.csv.gz")
    put = row(chain, "SPX", dt.date(2011, 2, 18), "P", 1200.0, dt.date(2011, 1, 5))
    assert (put["bid"], put["ask"], put["spot"]) == (7.5, 8.6, 1276.56)
    assert put["delta"] == pytest.approx(-0.172939)
    assert set(chain["root"]) == {"SPX", "SPXW", "SPXPM"}


def test_the_2018_l2_file():
    # SPXW,2648.98,W,SPXW180228P02500000,,put,02/28/2018,02/05/2018,2500,42.5,45.1,55,...,0.4317,-0.2725,...
    chain = read_chain(SHIPPED_CHAINS[0])
    assert len(chain) == 14438
    put = row(chain, "SPXW", dt.date(2018, 2, 28), "P", 2500.0, dt.date(2018, 2, 5))
    assert (put["bid"], put["ask"], put["iv"], put["delta"]) == (45.1, 55.0, 0.4317, -0.2725)


@pytest.mark.parametrize("text,moment", [
    ("Dec 28 2017 @ 11:12 ET,", dt.datetime(2017, 12, 28, 11, 12)),
    ('"Date: February 5 2022, 8:09 PM EST",Bid: 4420.5', dt.datetime(2022, 2, 5, 20, 9)),
    ('"Date: 23 de marzo de 2022, 10:11 GMT-4",Bid: 4477.1001', dt.datetime(2022, 3, 23, 10, 11)),
    ("Date: 6 May 2023, 8:40 PM EDT,Bid: 4118.0601", dt.datetime(2023, 5, 6, 20, 40)),
    ('"Date: February 13, 2024 at 6:40 AM EST",Bid: 4953.0801', dt.datetime(2024, 2, 13, 6, 40)),
    ('"Date: July 12, 2022, 11:55 AM EDT",Bid: 3855.3701', dt.datetime(2022, 7, 12, 11, 55)),
    # the same moment as browsers in other languages write it (the page's clock, toLocaleString)
    ("Date: 9 декабря 2023 г. в 13:49 GMT-5", dt.datetime(2023, 12, 9, 13, 49)),
    ("Date: 9 de diciembre de 2023, 13:49 GMT-5", dt.datetime(2023, 12, 9, 13, 49)),
    ("Date: 9 dic 2023, 1:49 p. m. GMT-5", dt.datetime(2023, 12, 9, 13, 49)),
    ("Date: 9. Dezember 2023 um 13:49 GMT-5", dt.datetime(2023, 12, 9, 13, 49)),
    ("Date: 9 déc. 2023, 13:49 UTC−5", dt.datetime(2023, 12, 9, 13, 49)),
    ("Date: 9 de dezembro de 2023 às 13:49 GMT-5", dt.datetime(2023, 12, 9, 13, 49)),
    ("Date: 2023年12月9日 GMT-5 13:49", dt.datetime(2023, 12, 9, 13, 49)),
    ("Date: 2023年12月9日 下午1:49", dt.datetime(2023, 12, 9, 13, 49)),
    ("Date: 2023年12月9日 13:49 GMT-5", dt.datetime(2023, 12, 9, 13, 49)),
    ("Date: 2023年12月9日 午後1:49", dt.datetime(2023, 12, 9, 13, 49)),
    ("Date: 2023년 12월 9일 오후 1:49", dt.datetime(2023, 12, 9, 13, 49)),
    ("Date: 9 dicembre 2023 alle ore 13:49", dt.datetime(2023, 12, 9, 13, 49)),
    ("Date: 3 maja 2023 13:05", dt.datetime(2023, 5, 3, 13, 5)),
    ("Date: December 9, 2023 at 12:05 AM EST", dt.datetime(2023, 12, 9, 0, 5)),
])
def test_capture_times_in_every_format_and_language(text, moment):
    assert written_moment(text) == moment


@pytest.mark.parametrize("text,missing", [("Date: 9 Brumaire 2023 13:49", "no month name"),
                                          ("Date: December 2023 13:49", "no day"),
                                          ("Date: 31 февраля 2023 г. в 13:49", "no such day"),
                                          ("Date: 9 декабря 2023 г.", "no time of day")])
def test_a_date_that_cannot_be_read_says_what_is_missing(text, missing):
    with pytest.raises(ValueError, match=missing):
        written_moment(text)


def test_month_words_of_every_language_read():
    words = month_words()
    assert words["декабря"] == words["dezember"] == words["12月"] == words["déc"] == 12
    assert words["mar"] == 3 and words["maja"] == 5 and len(LANGUAGES) >= 8


@pytest.mark.parametrize("moment,session", [
    (dt.datetime(2022, 2, 5, 20, 9), (dt.date(2022, 2, 4), "close")),  # a Saturday: Friday's close
    (dt.datetime(2020, 9, 4, 20, 49), (dt.date(2020, 9, 4), "close")),
    (dt.datetime(2020, 9, 4, 15, 59), (dt.date(2020, 9, 4), "intraday")),
    (dt.datetime(2020, 9, 4, 9, 29), (dt.date(2020, 9, 4), "overnight")),
    (dt.datetime(2020, 9, 7, 12, 0), (dt.date(2020, 9, 4), "close")),  # Labor Day
])
def test_the_session_a_snapshot_belongs_to(moment, session):
    assert session_of(moment) == session


def test_parity_finds_the_forward_an_overnight_snapshot_trades_at():
    """2024-02-13 06:40: the header states the previous close (5021.84); the options price an index near 5006
    (SOURCES.md). The forward of the 2024-03-15 monthly, carried back at r - q, lands there, not at the header."""
    chain = read_chain(REAL_CHAINS / "cboe_quotedata_2024-02-13.csv.gz")
    history = load_bundled()
    day = dt.date(2024, 2, 13)
    rate = float(history.rate[history.index_of(day)])
    forwards = parity_forwards(chain, {day: rate})
    monthly = forwards[(forwards["expiry"] == dt.date(2024, 3, 15)) & forwards["am"]]["forward"].item()
    t = (dt.date(2024, 3, 15) - day).days / 365
    spot = monthly * math.exp(-(rate - 0.0145) * t)
    assert 4995 < spot < 5012


@pytest.mark.parametrize("content,message", [
    (b"", "not a chain layout"),
    (b"hello,world\n1,2\n", "not a chain layout"),
    (b"\xff\xfe\x00garbage", "not a text file"),
    (b"SPX (S&P 500 INDEX),2684.79,+2.17,\nDec 28 2017 @ 11:12 ET,\nCalls,Last Sale,Net,Bid,Ask,Vol,Open Int,Puts,"
     b"Last Sale,Net,Bid,Ask,Vol,Open Int,\n18 Dec 1325.00 (SPX1821L1325),1077.7,0.0,abc,1349.1,0,1,"
     b"18 Dec 1325.00 (SPX1821X1325),3.7,0.0,1.3,2.95,0,1103,\n", "malformed"),
])
def test_bad_files_name_themselves(tmp_path, content, message):
    path = tmp_path / "download.csv"
    path.write_bytes(content)
    with pytest.raises(BadInput, match=message) as failure:
        read_chain(path)
    assert str(path) in str(failure.value)


def test_a_gzipped_file_reads_as_its_text(tmp_path):
    raw = gzip.decompress((REAL_CHAINS / "cboe_quotedata_2019-02-08_old_layout.dat.gz").read_bytes())
    plain = tmp_path / "quotedata.dat"
    plain.write_bytes(raw)
    assert read_chain(plain).equals(read_chain(REAL_CHAINS / "cboe_quotedata_2019-02-08_old_layout.dat.gz"))
