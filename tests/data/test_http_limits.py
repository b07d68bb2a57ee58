"""Hostile servers cannot hold a command or its memory: every try of a request has a total deadline, and a body
is capped at its decompressed size. Over real sockets, against tests/hostile_server.py on 127.0.0.1."""

import time

import pytest

from data.http import FetchError, HttpClient
from tests.hostile_server import gzip_bomb, hostile, huge_body, slow_body, slow_headers
from trading.cli import cli


def client(url, **options):
    return HttpClient(url, "Cboe", "SPX_WHEEL_CBOE_URL", max_tries=1, **options)


def text(response):
    return response.text


@pytest.mark.parametrize("behaviour", [slow_body, slow_headers])
def test_a_trickling_server_is_given_up_at_the_deadline(behaviour):
    with hostile(behaviour) as url:
        started = time.monotonic()
        with pytest.raises(FetchError, match="no whole answer within 1 s from Cboe at 127.0.0.1"):
            client(url, deadline=1.0).get("/SPX_History.csv", None, "SPX_History.csv", text)
        assert time.monotonic() - started < 3  # per-read timeouts of 30 s never fire on one byte every 0.1 s


@pytest.mark.parametrize("behaviour", [huge_body, gzip_bomb])
def test_a_body_past_its_cap_is_refused_before_it_is_held(behaviour):
    with hostile(behaviour) as url:
        with pytest.raises(FetchError, match="Cboe sent more than 1 MB for SPX_History.csv: refused"):
            client(url).get("/SPX_History.csv", None, "SPX_History.csv", text, max_bytes=1 << 20)


def test_a_whole_body_within_its_cap_and_deadline_is_read(httpserver):
    body = "Date,Close\n" + "01/02/2024,4742.83\n" * 50_000
    httpserver.expect_request("/SPX_History.csv").respond_with_data(body, content_type="text/csv")
    got = client(httpserver.url_for("/").rstrip("/"), deadline=5.0).get("/SPX_History.csv", None, "SPX", text,
                                                                         max_bytes=len(body))
    assert got == body


@pytest.mark.parametrize("command", [["update"], ["doctor"]])
def test_update_and_doctor_end_on_a_trickling_server(runner, tmp_path, command):
    with hostile(slow_body) as url:
        started = time.monotonic()
        result = runner.invoke(cli, [*command, "--db", str(tmp_path / "t.db")],
                               env={"SPX_WHEEL_CBOE_URL": url, "SPX_WHEEL_FRED_URL": url, "POLYGON_BASE_URL": url,
                                    "POLYGON_API_KEY": "k" if command == ["doctor"] else "",
                                    "SPX_WHEEL_DEADLINE": "1", "SPX_WHEEL_MAX_TRIES": "1", "POLYGON_MAX_TRIES": "1",
                                    "POLYGON_RATE_LIMIT": "0"})
        assert time.monotonic() - started < 10
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no whole answer within 1 s" in result.output


def test_the_daily_run_warns_and_trades_on_when_its_update_trickles(runner, calibrated):
    with hostile(slow_body) as url:
        result = runner.invoke(cli, ["trade", "--update", "--as-of", "2020-01-02", "--db", str(calibrated)],
                               env={"SPX_WHEEL_CBOE_URL": url, "SPX_WHEEL_FRED_URL": url, "SPX_WHEEL_DEADLINE": "1",
                                    "SPX_WHEEL_MAX_TRIES": "1"})
    assert result.exit_code == 0, result.output
    assert "Warning: the update failed" in result.stderr and "no whole answer within 1 s" in result.stderr
