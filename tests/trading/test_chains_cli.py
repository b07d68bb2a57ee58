"""`spx-wheel import`, `chains` and `--source chains` as a user runs them: the real 2018 SPXW chains imported,
backtested with every trade re-priced here from the raw file, calibrated on real quotes."""

import csv
import datetime as dt
import gzip
import io
import json
import math
import shutil
import sqlite3
from pathlib import Path

import pytest

from data.chain_files import REAL_CHAINS, SHIPPED_CHAINS, read_chain
from tests.conftest import table_counts
from trading.cli import cli

SPX_2018 = SHIPPED_CHAINS[0]


def invoke(runner, db_path, *args):
    return runner.invoke(cli, [*args, "--db", str(db_path)])


@pytest.fixture
def imported(runner, db_path, monkeypatch):
    monkeypatch.delenv("SPX_WHEEL_CHAINS", raising=False)
    result = invoke(runner, db_path, "import", str(SPX_2018), str(REAL_CHAINS / "deltaneutral_spx_200811.csv.gz"))
    assert result.exit_code == 0, result.output
    return db_path


def raw_2018_puts():
    """{(quote date, expiry, strike): (bid, ask, delta)} read here from the vendor's file with the csv module."""
    with gzip.open(SPX_2018, "rt") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read()), skipinitialspace=True))
    iso = lambda text: f"{text[6:10]}-{text[0:2]}-{text[3:5]}"  # noqa: E731
    return {(iso(r["quotedate"]), iso(r["expiration"]), float(r["strike"])): (float(r["bid"]), float(r["ask"]),
                                                                               float(r["delta"]))
            for r in rows if r["type"].strip() == "put"}


def test_import_is_recorded_once_and_chains_tells_what_is_stored(runner, imported):
    stored = json.loads(invoke(runner, imported, "chains", "--json").stdout)
    assert stored["store"] == str(imported.parent / "wheel-chains")  # beside the database
    assert stored["quote_dates"] == 40 + 18
    assert [(f["file"], f["rows"], f["days"]) for f in stored["files"]] == [
        ("deltaneutral_spx_200811.csv.gz", 30588, 18), ("SPX_2018.csv.gz", 14438, 40)]
    files_before = sorted(p.name for p in (imported.parent / "wheel-chains").rglob("*.parquet"))
    again = invoke(runner, imported, "import", str(SPX_2018), "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["files"][0]["new"] is False
    assert sorted(p.name for p in (imported.parent / "wheel-chains").rglob("*.parquet")) == files_before
    text = invoke(runner, imported, "chains").stdout
    assert "DeltaNeutral L2" in text and "45,026" in text


def test_a_bad_file_imports_nothing_and_the_good_ones_still_land(runner, imported, tmp_path):
    lines = gzip.decompress((REAL_CHAINS / "ivolatility_spx_201101.csv.gz").read_bytes()).decode().splitlines()
    bad = tmp_path / "ivol.csv"
    fields = lines[9].split(",")
    fields[10], fields[11] = "-" + fields[10], fields[11]  # this layout's bid column, made negative
    bad.write_text("\n".join([*lines[:9], ",".join(fields), *lines[10:]]) + "\n")
    before = table_counts(imported)
    files_before = len(list((imported.parent / "wheel-chains").rglob("*.parquet")))
    result = invoke(runner, imported, "import", str(bad))
    assert result.exit_code == 2 and result.stderr.startswith(f"{bad}, line 10: a price below zero")
    assert len(result.stderr.strip().splitlines()) == 1
    assert table_counts(imported) == before
    assert len(list((imported.parent / "wheel-chains").rglob("*.parquet"))) == files_before
    good = tmp_path / "ivol_good.csv.gz"
    shutil.copy(REAL_CHAINS / "ivolatility_spx_201101.csv.gz", good)
    mixed = invoke(runner, imported, "import", str(bad), str(good), "--json")
    assert mixed.exit_code == 2 and [f["file"] for f in json.loads(mixed.stdout)["files"]] == ["ivol_good.csv.gz"]


def test_backtest_on_the_2018_chains_is_priced_from_the_raw_quotes(runner, imported):
    result = invoke(runner, imported, "backtest", "--delta", "0.2", "--dte", "28", "--strike-rule", "bs-delta",
                    "--source", "chains", "--start", "2018-01-02", "--end", "2018-02-28",
                    "--fill", "mid-spread:0.25", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    trades = report["trades"]
    assert len(trades) == 2 and (report["real"], report["estimated"]) == (2, 0)
    raw = raw_2018_puts()
    for trade in trades:
        day, expiry = trade["entry_date"], trade["expiry"]
        chain = {k: v for (d, e, k), v in raw.items() if d == day and e == expiry}
        nearest = min(chain, key=lambda k: (abs(abs(chain[k][2]) - 0.2), k))  # the vendor's delta nearest 0.20
        assert trade["strike"] == nearest and trade["price_source"] == "real"
        bid, ask, _ = chain[nearest]
        price = (bid + ask) / 2 - 0.25 * (ask - bid) / 2
        step = 0.05 if price < 3 else 0.10
        assert trade["fill"] == pytest.approx(math.floor(round(price / step, 6)) * step)
        assert trade["price"] == pytest.approx((bid + ask) / 2)


def test_buy_backs_on_chains_pay_inside_the_days_real_quote(runner, imported):
    """Early 2018 with a 50% take-profit and a 2x stop under --fill mid: every buy-back is priced by the day's
    real quote, at its mid rounded up to the tick (at most the ask), read here from the vendor's file."""
    result = invoke(runner, imported, "backtest", "--delta", "0.2", "--dte", "28", "--strike-rule", "bs-delta",
                    "--source", "chains", "--start", "2018-01-02", "--end", "2018-02-28", "--fill", "mid",
                    "--take-profit", "0.5", "--stop-loss", "2", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["buy_backs"] >= 5 and report["real_buy_backs"] == report["buy_backs"]
    with sqlite3.connect(imported) as connection:
        bought = connection.execute("select exit_date, expiry, strike_cents, exit_fill_cents, exit_source, exit_reason "
                                    "from backtest_trades where exit_reason is not null").fetchall()
    assert {reason for *_, reason in bought} == {"take profit 50%", "stop loss 2x"}
    raw = raw_2018_puts()
    for day, expiry, strike_cents, fill_cents, source, _ in bought:
        bid, ask, _ = raw[(day, expiry, strike_cents / 100)]
        mid = (bid + ask) / 2
        step = 0.05 if mid < 3 else 0.10
        assert (fill_cents, source) == (round(min(math.ceil(round(mid / step, 6)) * step, ask) * 100), "real")


def test_calibrate_quote_and_trade_on_chains_are_real(runner, imported):
    result = invoke(runner, imported, "calibrate", "2018-01-02", "--end", "2018-02-28", "--source", "chains",
                    "--fill", "mid-spread:0.25", "--deltas", "0.15,0.2", "--dtes", "21,28", "--min-trades", "1",
                    "--json")
    assert result.exit_code == 0, result.output
    quality = json.loads(result.stdout)["data_quality"]
    assert quality["real"] > 0 and quality["estimated"] == 0
    quoted = json.loads(invoke(runner, imported, "quote", "--date", "2018-01-18", "--expiry", "2018-01-31",
                               "--strike", "2750", "--source", "chains", "--json").stdout)
    bid, ask, _ = raw_2018_puts()[("2018-01-18", "2018-01-31", 2750.0)]
    assert (quoted["bid"], quoted["ask"], quoted["mid"]) == (bid, ask, round((bid + ask) / 2, 4))
    traded = invoke(runner, imported, "trade", "--as-of", "2018-01-18", "--source", "chains", "--json")
    assert traded.exit_code == 0, traded.output
    opened = json.loads(traded.stdout)["opened"]
    bid, ask, _ = raw_2018_puts()[("2018-01-18", opened["expiry"], opened["strike"])]
    price = (bid + ask) / 2 - 0.25 * (ask - bid) / 2  # the saved fill model
    step = 0.05 if price < 3 else 0.10
    assert opened["price_source"] == "real" and opened["price"] == pytest.approx((bid + ask) / 2)
    assert opened["fill"] == pytest.approx(math.floor(round(price / step, 6)) * step)
    missing = json.loads(invoke(runner, imported, "quote", "--date", "2018-03-01", "--expiry", "2018-03-29",
                                "--strike", "2700", "--source", "chains", "--json").stdout)
    assert (missing["bid"], missing["ask"], missing["mid"], missing["real_close"]) == (None, None, None, None)


def test_chains_source_without_imports_and_the_store_setting(runner, db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("SPX_WHEEL_CHAINS", str(tmp_path / "elsewhere"))
    result = invoke(runner, db_path, "backtest", "--delta", "0.2", "--dte", "30", "--source", "chains")
    assert result.exit_code == 1  # a data failure (README: Exit codes)
    assert result.stderr.strip().startswith("Error: no option chain imported between")
    assert invoke(runner, db_path, "import", str(SPX_2018)).exit_code == 0
    assert list((tmp_path / "elsewhere").rglob("*.parquet")) and not (tmp_path / "wheel-chains").exists()


def test_model_check_prices_the_imported_chains(runner, imported):
    check = json.loads(invoke(runner, imported, "model-check", "--json").stdout)
    sources = {row["label"]: row for row in check["imported"]["by source"]}
    assert set(sources) == {"imported 2008", "imported 2018"} and sources["imported 2008"]["days"] == 18


XSP_CHAINS = Path(__file__).resolve().parents[1] / "fixtures" / "chains" / "datashop_xsp_2024-01.csv.gz"


def test_xsp_chains_price_xsp_and_stay_out_of_spx(runner, imported):
    """An XSP file in DataShop's layout beside the real SPX chains: `--underlying XSP --source chains` trades XSP
    at the file's quotes, and an SPX backtest over the same days never sees an XSP row."""
    assert invoke(runner, imported, "import", str(XSP_CHAINS)).exit_code == 0
    result = invoke(runner, imported, "backtest", "--delta", "0.2", "--dte", "30", "--underlying", "XSP", "--source",
                    "chains", "--fill", "mid", "--start", "2024-01-02", "--end", "2024-01-05", "--json")
    assert result.exit_code == 0, result.output
    trades = json.loads(result.stdout)["trades"]
    with gzip.open(XSP_CHAINS, "rt") as handle:
        quotes = {(r["quote_date"], r["expiration"], float(r["strike"])): (float(r["bid_eod"]), float(r["ask_eod"]))
                  for r in csv.DictReader(handle) if r["option_type"] == "P"}
    assert trades and all(t["ticker"].startswith("O:XSP") and t["price_source"] == "real" for t in trades)
    for trade in trades:
        bid, ask = quotes[(trade["entry_date"], trade["expiry"], trade["strike"])]
        assert trade["price"] == pytest.approx((bid + ask) / 2) and trade["fill"] == pytest.approx((bid + ask) / 2)
    spx = invoke(runner, imported, "backtest", "--delta", "0.2", "--dte", "30", "--source", "chains", "--start",
                 "2018-01-02", "--end", "2018-02-28", "--json")
    assert all(not t["ticker"].startswith("O:XSP") for t in json.loads(spx.stdout)["trades"])
    refused = invoke(runner, imported, "backtest", "--delta", "0.2", "--dte", "30", "--underlying", "XSP",
                     "--source", "cboe")
    assert refused.exit_code == 2 and "Cboe's SPX quotes only" in refused.stderr


def cboe_download_dated(tmp_path, date_line, name):
    """The real 2023-05-05 Cboe download (saved on Saturday 6 May) with its Date: line as another browser wrote it."""
    lines = gzip.decompress((REAL_CHAINS / "cboe_quotedata_2023-05-05.csv.gz").read_bytes()).decode().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Date:"))
    lines[at] = date_line + lines[at][lines[at].index(",Bid:"):]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_download_in_another_language_imports_as_the_same_day(runner, db_path, tmp_path):
    russian = cboe_download_dated(tmp_path, "Date: 6 мая 2023 г. в 20:40 GMT-4", "ru.csv")
    result = invoke(runner, db_path, "import", str(russian), "--json")
    assert result.exit_code == 0, result.stderr
    (held,) = json.loads(invoke(runner, db_path, "chains", "--json").stdout)["files"]
    assert (held["first_day"], held["last_day"]) == ("2023-05-05", "2023-05-05")


def test_quote_date_settles_a_date_line_that_cannot_be_read(runner, db_path, tmp_path):
    unreadable = cboe_download_dated(tmp_path, "Date: 17 Floréal an 231, 20:40", "floreal.csv")
    refused = invoke(runner, db_path, "import", str(unreadable))
    assert refused.exit_code == 2 and "give the day with --quote-date" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    wrong = invoke(runner, db_path, "import", str(cboe_download_dated(tmp_path, "Date: 6 May 2023, 8:40 PM EDT",
                                                                       "en.csv")), "--quote-date", "2023-05-04")
    assert wrong.exit_code == 2 and "not --quote-date 2023-05-04" in wrong.stderr
    assert json.loads(invoke(runner, db_path, "chains", "--json").stdout)["files"] == []
    given = invoke(runner, db_path, "import", str(unreadable), "--quote-date", "2023-05-05")
    assert given.exit_code == 0, given.stderr
    (held,) = json.loads(invoke(runner, db_path, "chains", "--json").stdout)["files"]
    assert (held["first_day"], held["last_day"]) == ("2023-05-05", "2023-05-05")


def test_model_check_reprices_a_runs_own_trades_on_the_real_quotes(runner, tmp_path):
    """An estimated backtest (embedded source) over days whose real chains are imported: its entry on 2022-06-10,
    the SPX 2022-07-15 3685 put, against that day's real quote (Cboe's chain: bid 51.10, ask 52.30)."""

    db = tmp_path / "check.db"
    for day in ("2022-06-10", "2022-07-12"):
        assert invoke(runner, db, "import", str(REAL_CHAINS / f"cboe_quotedata_{day}.csv.gz")).exit_code == 0
    assert invoke(runner, db, "backtest", "--delta", "0.1", "--dte", "35", "--start", "2022-06-10", "--end",
                  "2022-08-31").exit_code == 0
    trades = [row for row in csv.DictReader(io.StringIO(invoke(runner, db, "export", "-", "--run", "1").stdout))]
    first = trades[0]
    assert (first["ticker"], first["entry_date"], first["price_source"]) == (
        "O:SPX220715P03685000", "2022-06-10", "estimated")
    chain = read_chain(REAL_CHAINS / "cboe_quotedata_2022-06-10.csv.gz")
    real = chain[(chain["root"] == "SPX") & (chain["right"] == "P") & (chain["strike"] == 3685.0)
                 & (chain["expiry"] == dt.date(2022, 7, 15))]
    bid, ask = float(real["bid"].iloc[0]), float(real["ask"].iloc[0])
    assert (bid, ask) == (51.10, 52.30)
    mid = (bid + ask) / 2
    # the run's own fill model on the real mid: 5% off (2.585), down to SPX's $0.10 tick: 49.10
    real_fill = math.floor(round((mid - 0.05 * mid) / 0.1, 6)) * 0.1
    result = invoke(runner, db, "model-check", "--run", "1", "--json")
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert done["days_quoted"] == 1 and done["repriced"] == 1 and done["exits"]["count"] == 0
    assert done["entries"]["count"] == 1
    assert done["entries"]["bias"] == pytest.approx(float(first["price"]) / mid - 1)
    assert done["pnl_difference"] == pytest.approx((real_fill - float(first["fill"])) * 100, abs=0.005)
    text = invoke(runner, db, "model-check", "--run", "1").stdout
    assert "1 of them in the chains imported" in text and "entries re-priced: 1: median error 2.3%" in text
    missing = invoke(runner, db, "model-check", "--run", "9")
    assert missing.exit_code == 1 and "no calibration or backtest run #9" in missing.stderr


def test_a_partial_file_is_said_at_import_and_in_the_backtest(runner, db_path, monkeypatch):
    """The 2018 sample holds two expirations (2018-01-31 and 2018-02-28) where the exchange listed about ten within
    45 days (weeklies, month ends): import says so, and a --source chains run counts its entries made there. A
    whole chain (Cboe's of 2022-06-10) is not flagged."""
    monkeypatch.delenv("SPX_WHEEL_CHAINS", raising=False)
    raw = raw_2018_puts()
    assert {expiry for _, expiry, _ in raw} == {"2018-01-31", "2018-02-28"}
    done = invoke(runner, db_path, "import", str(SPX_2018), str(REAL_CHAINS / "cboe_quotedata_2022-06-10.csv.gz"),
                  "--json")
    files = {f["file"]: f["partial_days"] for f in json.loads(done.stdout)["files"]}
    assert files == {"SPX_2018.csv.gz": 40, "cboe_quotedata_2022-06-10.csv.gz": 0}
    run = json.loads(invoke(runner, db_path, "backtest", "--delta", "0.1", "--dte", "30", "--start", "2018-01-02",
                            "--end", "2018-02-28", "--source", "chains", "--json").stdout)
    entries = [t for t in run["trades"]]
    assert entries and run["partial_listing_entries"] == len(entries)  # every 2018 day is partial
    text = invoke(runner, db_path, "backtest", "--delta", "0.1", "--dte", "30", "--start", "2018-01-02", "--end",
                  "2018-02-28", "--source", "chains").stdout
    assert f"Partial listings: {len(entries)} entries on chain days that hold fewer expirations" in text
