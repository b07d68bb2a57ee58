"""One HTTP transport for every data service (Polygon, Cboe, FRED): a total deadline on every request (a server
that answers one byte at a time cannot hold a command), a cap on the body's decompressed size, retries with
exponential backoff and jitter (honouring Retry-After) on 429, 5xx, timeouts, refused connections and broken
bodies, and one clear error line for everything else. Nothing here ever prints a request header."""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3

from data.errors import BadInput, DataError

logger = logging.getLogger(__name__)
T = TypeVar("T")
# failures worth another try: the answer may well be whole the next time
TRANSIENT = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
             requests.exceptions.ContentDecodingError)
MALFORMED_URL = (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                 requests.exceptions.MissingSchema, requests.exceptions.InvalidHeader, ValueError)


class FetchError(DataError):
    """A request failed for good; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Retry(Exception):
    """Raised by a response parser: the body was unusable, ask again."""


class TooLarge(Exception):
    """The body grew past the request's cap."""


class Late(requests.Timeout):
    """The request's total deadline passed (however steadily the server was sending)."""


CHUNK = 1 << 16


def checked_base_url(url: str, setting: str) -> str:
    """The base URL without its trailing slash; BadInput unless it is an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host, parts = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise BadInput(f"{setting} must be an http:// or https:// URL with a host, got {url!r}")
    return url.rstrip("/")


def _read_some(response: requests.Response) -> bytes:
    """The next bytes of the body as they arrive (decompressed), urllib3's failures named as requests names them."""
    try:
        return response.raw.read1(CHUNK, decode_content=True)
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.Timeout(str(exc)) from None
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(str(exc)) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise requests.exceptions.ChunkedEncodingError(str(exc)) from None


class HttpClient:
    """Requests below one base URL for the service named `service` (its URL set by `setting`)."""

    def __init__(self, base_url: str, service: str, setting: str, *, max_tries: int = 5,
                 timeout: tuple[float, float] = (5.0, 30.0), deadline: float = 120.0, max_bytes: int = 64 << 20,
                 backoff: float = 1.0,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random, before_request: Callable[[], None] = lambda: None,
                 error: type[FetchError] = FetchError) -> None:
        self.base_url = checked_base_url(base_url, setting)
        self.service, self.setting, self.error = service, setting, error
        self.session = session or requests.Session()
        self.max_tries, self.timeout, self.backoff = max_tries, timeout, backoff
        self.deadline, self.max_bytes = deadline, max_bytes
        self.sleep, self.jitter, self.before_request = sleep, jitter, before_request

    def get(self, path: str, params: dict[str, Any] | None, what: str,
            parse: Callable[[requests.Response], T], max_bytes: int | None = None) -> T:
        """`parse` turns a 2xx-5xx answer into the result; it may raise Retry for an unusable body. Each try has
        the client's total deadline; a body over `max_bytes` (the client's cap by default), decompressed, is an
        error at once."""
        return self.request("GET", path, params, what, parse, max_bytes)

    def request(self, method: str, path: str, params: dict[str, Any] | None, what: str,
                parse: Callable[[requests.Response], T], max_bytes: int | None = None,
                body: Any = None, tries: int | None = None) -> T:
        """As `get`, for any method, with a JSON `body`; `tries` caps the tries (1 for a request that must not
        be repeated blindly, such as placing an order)."""
        cap = max_bytes or self.max_bytes
        last = min(tries or self.max_tries, self.max_tries)
        for attempt in range(1, last + 1):
            self.before_request()
            try:
                response = self._fetch(method, self.base_url + path, params, cap, body)
            except TooLarge:
                raise self.error(f"{self.service} sent more than {cap >> 20} MB for {what}: refused (check "
                                 f"{self.setting})") from None
            except TRANSIENT as exc:
                kind = (f"no whole answer within {self.deadline:g} s from" if isinstance(exc, Late) else
                        "no answer from" if isinstance(exc, requests.Timeout) else
                        "cannot connect to" if type(exc) is requests.ConnectionError else "a broken answer from")
                self._retry_or_raise(attempt, last, self.error(
                    f"{kind} {self.service} at {urlsplit(self.base_url).netloc} for {what} after {attempt} "
                    f"tries: check the network or {self.setting}"), None)
                continue
            except MALFORMED_URL:
                raise self.error(f"cannot send the request for {what}: check {self.setting} "
                                 "(and that no setting holds a line break)") from None
            status = response.status_code
            if status == 429 or status >= 500:
                failure = self.error(f"{self.service} is busy (HTTP 429) for {what} after {attempt} tries"
                                     if status == 429 else
                                     f"{self.service} server error HTTP {status} for {what} after {attempt} tries",
                                     status)
                self._retry_or_raise(attempt, last, failure, response.headers.get("Retry-After"))
                continue
            try:
                return parse(response)
            except Retry as exc:
                self._retry_or_raise(attempt, last, self.error(f"{exc} from {self.service} for {what} after "
                                                               f"{attempt} tries", status), None)
        raise AssertionError("unreachable")

    def _fetch(self, method: str, url: str, params: dict[str, Any] | None, cap: int,
               payload: Any = None) -> requests.Response:
        """One GET, its body read whole within the deadline and the cap. The read runs in a thread of its own so
        that the deadline holds while a server trickles its headers; the thread also stops at the deadline, at
        its next read."""
        ends = time.monotonic() + self.deadline
        outcome: dict[str, Any] = {}

        def read() -> None:
            try:
                response = self.session.request(method, url, params=params, json=payload, timeout=self.timeout,
                                                stream=True)
                with response:
                    body = bytearray()
                    while chunk := _read_some(response):
                        body += chunk
                        if len(body) > cap:
                            raise TooLarge()
                        if time.monotonic() > ends:
                            raise Late()
                    response._content = bytes(body)  # as requests keeps a body read whole: .json() and .text work
                outcome["response"] = response
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc

        worker = threading.Thread(target=read, daemon=True, name="spx-wheel-http")
        worker.start()
        worker.join(self.deadline)
        if worker.is_alive():
            raise Late()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"]  # type: ignore[no-any-return]

    def _retry_or_raise(self, attempt: int, last: int, failure: FetchError, retry_after: str | None) -> None:
        if attempt >= last:
            raise failure
        delay = self.backoff * 2 ** (attempt - 1) * (0.5 + self.jitter())
        if retry_after is not None:
            try:
                delay = max(delay, float(retry_after))
            except ValueError:
                pass
        logger.info("retrying in %.1f s: %s", delay, failure)
        self.sleep(delay)
