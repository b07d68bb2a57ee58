"""The Polygon client over real HTTP against a local fake (pytest-httpserver on 127.0.0.1)."""

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from werkzeug.wrappers import Response

from data.polygon import PolygonClient, PolygonError, RateLimiter
from tests.fake_polygon import FakePolygon

KEY = "test-key-0123456789abcdefghij"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "polygon"


@pytest.fixture
def fake(httpserver):
    server = FakePolygon(KEY, page_size=4)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(server)
    return server


def client(httpserver, **kwargs):
    sleeps = kwargs.pop("sleeps", [])
    options = {"rate_limit": 0, "max_tries": 3, "backoff": 0.01, "sleep": sleeps.append, "jitter": lambda: 0.5}
    return PolygonClient(KEY, httpserver.url_for("/").rstrip("/"), **{**options, **kwargs})


def fixture_body(name):
    return (FIXTURES / name).read_text()


def test_pagination_follows_next_url_on_our_own_host(httpserver, fake):
    puts = client(httpserver).listed_puts(dt.date(2023, 3, 1), dt.date(2023, 3, 2), dt.date(2023, 3, 20),
                                          3600, 3800, expired=True)
    # Fridays 03-03, 03-10, 03-17 (SPX and SPXW): 4 expirations x 9 strikes = 36 contracts, 4 per page -> 9 pages
    assert len(puts) == 36 and len({p.ticker for p in puts}) == 36
    assert len(fake.requests) == 9
    assert {p.root for p in puts} == {"SPX", "SPXW"} and {p.strike for p in puts} == set(range(3600, 3801, 25))
    assert all(r["path"] == "/v3/reference/options/contracts" for r in fake.requests)


def test_recorded_fixture_pages_are_followed(httpserver):
    httpserver.expect_request("/v3/reference/options/contracts", query_string={"cursor": "YXA9JTdCJTIySUQlMjIlM0ElMjIy"}
                              ).respond_with_data(fixture_body("v3/reference/options/contracts&cursor=YXA9JTdCJTIySUQlMjIlM0ElMjIy.json"),
                                                  content_type="application/json")
    httpserver.expect_request("/v3/reference/options/contracts").respond_with_data(
        fixture_body("v3/reference/options/contracts.json"), content_type="application/json")
    results = list(client(httpserver).paginate("/v3/reference/options/contracts", {"limit": 10}, "contracts"))
    assert len(results) == 20
    assert results[0]["ticker"] == "O:A220520C00065000" and results[-1]["strike_price"] == 160


def test_aggregates_fixture_dates_in_new_york(httpserver):
    httpserver.expect_request("/v2/aggs/ticker/AAPL/range/1/day/2005-04-01/2005-04-04").respond_with_data(
        fixture_body("v2/aggs/ticker/AAPL/range/1/day/2005-04-01/2005-04-04.json"), content_type="application/json")
    bars = client(httpserver).daily_bars("AAPL", dt.date(2005, 4, 1), dt.date(2005, 4, 4))
    assert [b.day for b in bars] == [dt.date(2005, 4, 1), dt.date(2005, 4, 4)]  # across the DST switch
    raw = json.loads(fixture_body("v2/aggs/ticker/AAPL/range/1/day/2005-04-01/2005-04-04.json"))["results"]
    assert [(b.open, b.close) for b in bars] == [(r["o"], r["c"]) for r in raw]


def test_index_bars_from_the_fake(httpserver, fake):
    bars = client(httpserver).daily_bars("I:SPX", dt.date(2020, 3, 13), dt.date(2020, 3, 17))
    assert [(b.day, b.close) for b in bars] == [(dt.date(2020, 3, 13), 2711.02), (dt.date(2020, 3, 16), 2386.13),
                                               (dt.date(2020, 3, 17), 2529.19)]


def test_key_only_in_the_authorization_header(httpserver, fake):
    client(httpserver).daily_bars("I:VIX", dt.date(2020, 3, 13), dt.date(2020, 3, 17))
    for request in fake.requests:
        assert request["authorization"] == f"Bearer {KEY}"
        assert KEY not in request["query"] and "apiKey" not in request["query"]


def test_429_then_success_honours_retry_after(httpserver, fake):
    httpserver.expect_oneshot_request(re.compile("/v2/aggs/.*")).respond_with_response(Response(
        json.dumps({"status": "ERROR", "request_id": "x", "error": "You've exceeded the maximum requests per minute"}),
        status=429, headers={"Retry-After": "7"}, content_type="application/json"))
    sleeps = []
    bars = client(httpserver, sleeps=sleeps).daily_bars("I:SPX", dt.date(2020, 3, 13), dt.date(2020, 3, 13))
    assert len(bars) == 1 and sleeps == [7.0]


def test_persistent_500s_give_up_after_the_tries(httpserver):
    httpserver.expect_request(re.compile(".*")).respond_with_data("upstream broke", status=503)
    sleeps = []
    with pytest.raises(PolygonError) as failure:
        client(httpserver, sleeps=sleeps).daily_bars("I:SPX", dt.date(2020, 3, 13), dt.date(2020, 3, 13))
    assert failure.value.status == 503 and "after 3 tries" in str(failure.value)
    assert len(httpserver.log) == 3
    assert sleeps == [0.01, 0.02]  # exponential: backoff * 2**(try-1) * (0.5 + jitter 0.5)


def test_read_timeout(httpserver):
    def slow(request):
        import time

        time.sleep(0.6)
        return Response("{}", content_type="application/json")

    httpserver.expect_request(re.compile(".*")).respond_with_handler(slow)
    with pytest.raises(PolygonError) as failure:
        client(httpserver, timeout=(2.0, 0.2), max_tries=2).daily_bars("I:SPX", dt.date(2020, 3, 13),
                                                                       dt.date(2020, 3, 13))
    assert "no answer from Polygon" in str(failure.value) and failure.value.status is None


def test_malformed_json_is_retried_then_refused(httpserver):
    httpserver.expect_request(re.compile(".*")).respond_with_data('{"results": [{"c": 1', content_type="application/json")
    with pytest.raises(PolygonError) as failure:
        client(httpserver).daily_bars("I:SPX", dt.date(2020, 3, 13), dt.date(2020, 3, 13))
    assert "malformed JSON" in str(failure.value)


@pytest.mark.parametrize("status", [200, 403])
def test_not_authorized_with_200_and_403(httpserver, status):
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        {"status": "NOT_AUTHORIZED", "request_id": "r",
         "message": "You are not entitled to this data. Please upgrade your plan at https://massive.com/pricing"},
        status=status)
    with pytest.raises(PolygonError) as failure:
        client(httpserver).daily_bars("I:SPX", dt.date(2020, 3, 13), dt.date(2020, 3, 13))
    assert str(failure.value).startswith("your Polygon plan does not include I:SPX")
    assert failure.value.status == 403 and len(httpserver.log) == 1


def test_unknown_key(httpserver, fake):
    bad = PolygonClient("wrong-key", httpserver.url_for("/").rstrip("/"), rate_limit=0, sleep=lambda s: None)
    with pytest.raises(PolygonError) as failure:
        bad.daily_bars("I:SPX", dt.date(2020, 3, 13), dt.date(2020, 3, 13))
    assert "rejected the API key" in str(failure.value) and failure.value.status == 401
    assert "wrong-key" not in str(failure.value)


def test_empty_results_mean_no_bars(httpserver):
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        {"ticker": "O:TSLA211203C01120000", "queryCount": 0, "resultsCount": 0, "adjusted": True, "status": "OK",
         "request_id": "3087c7eecf4812ab48fb34dc36484371"})
    assert client(httpserver).daily_bars("O:SPX211203P01120000", dt.date(2021, 11, 1), dt.date(2021, 12, 3)) == []


def test_a_repeated_cursor_stops_pagination(httpserver):
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        {"status": "OK", "request_id": "r", "results": [{"x": 1}],
         "next_url": "https://api.massive.com/v3/snapshot/options/I:SPX?cursor=AAAA"})
    with pytest.raises(PolygonError, match="repeated a pagination cursor"):
        list(client(httpserver).paginate("/v3/snapshot/options/I:SPX", {}, "chain"))
    assert len(httpserver.log) == 2


def test_rate_limiter_spaces_a_free_key():
    now = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(5, monotonic=lambda: now[0], sleep=sleep)
    for _ in range(11):
        limiter.wait()
        now[0] += 1.0
    # starts at t=0..4; the 6th asks at t=5 and waits 55 s until t=60 (when t=0 leaves the window); the 7th-10th
    # follow at t=61..64 as t=1..4 leave; the 11th asks at t=65 and waits 55 s until t=120, the window's 5 starts
    # being 60..64. The last call ends at t=121.
    assert sleeps == [55.0, 55.0] and now[0] == 121.0
    RateLimiter(0, sleep=lambda s: pytest.fail("no limit must never sleep")).wait()


def test_listed_puts_are_parsed_once_and_odd_contracts_left_out(httpserver):
    listed = {"status": "OK", "request_id": "r", "results": [
        {"ticker": "O:SPXW230310P03900000", "expiration_date": "2023-03-10", "strike_price": 3900},
        {"ticker": "O:SPX1230317P03900000", "expiration_date": "2023-03-17", "strike_price": 3900},  # adjusted
    ]}
    httpserver.expect_oneshot_request("/v3/reference/options/contracts").respond_with_json(listed)
    puts = client(httpserver).listed_puts(dt.date(2023, 3, 1), dt.date(2023, 3, 2), dt.date(2023, 3, 20),
                                          3800, 4000, expired=True)
    assert [(p.root, p.expiry, p.strike) for p in puts] == [("SPXW", dt.date(2023, 3, 10), 3900.0)]
    httpserver.expect_oneshot_request("/v3/reference/options/contracts").respond_with_json(
        {"status": "OK", "request_id": "r", "results": [{"expiration_date": "2023-03-10"}]})
    with pytest.raises(PolygonError, match="malformed contract"):
        client(httpserver).listed_puts(dt.date(2023, 3, 1), dt.date(2023, 3, 2), dt.date(2023, 3, 20), 3800, 4000,
                                       expired=True)


@pytest.mark.parametrize("ticker, open_, close, bound", [
    ("I:SPX", 4700.0, 1e307, "(1, 1e+06]"),
    ("I:SPX", 1e-300, 4700.0, "(1, 1e+06]"),
    ("I:VIX", 18.0, -3.0, "[1, 1000]"),
    ("O:SPX240119P04600000", 5.1, 1e300, "[0, 100000]"),
])
def test_a_bar_that_cannot_be_is_refused(httpserver, ticker, open_, close, bound):
    httpserver.expect_request(re.compile(".*")).respond_with_json(
        {"ticker": ticker, "queryCount": 1, "resultsCount": 1, "adjusted": True, "status": "OK", "request_id": "r",
         "results": [{"v": 1, "o": open_, "c": close, "h": close, "l": open_, "t": 1704171600000, "n": 1}]})
    with pytest.raises(PolygonError, match=re.escape(f"Polygon sent a {ticker} bar of 2024-01-02 outside {bound}")):
        client(httpserver).daily_bars(ticker, dt.date(2024, 1, 2), dt.date(2024, 1, 2))
