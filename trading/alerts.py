"""Alerts: what the daily commands want a person to hear about at once, sent through Apprise (one library for
email, ntfy, Slack, Telegram, a JSON webhook and a hundred more, each a URL). A notifier that fails never fails
the command: the failure is one line for the caller to show, without the URL (URLs carry tokens)."""

from __future__ import annotations

import logging
import re
import warnings
from typing import Sequence

URL_SEPARATORS = re.compile(r"[\s,]+")


def notifier_urls(text: str | None) -> list[str]:
    """The URLs of `--notify` / SPX_WHEEL_NOTIFY: several may be given, separated by commas or spaces."""
    return [url for url in URL_SEPARATORS.split(text or "") if url]


def _scheme(url: str) -> str:
    return url.split("://", 1)[0] + "://" if "://" in url else "a URL without a scheme"


def send(urls: Sequence[str], title: str, body: str) -> list[str]:
    """Send one alert to every URL; returns a line for each that failed (empty when all were sent)."""
    if not urls:
        return []
    with warnings.catch_warnings():  # apprise's plugins still import the standard library's deprecated imghdr
        warnings.simplefilter("ignore", DeprecationWarning)
        return _send(urls, title, body)


def _send(urls: Sequence[str], title: str, body: str) -> list[str]:
    import apprise  # 0.2 s to import: only when there is something to send

    logging.getLogger("apprise").setLevel(logging.CRITICAL + 1)  # its messages may quote a URL, tokens and all
    failed = []
    for url in urls:
        sender = apprise.Apprise()
        if not sender.add(url):
            failed.append(f"the {_scheme(url)} notifier URL is not one Apprise knows: alert not sent")
            continue
        try:
            sent = sender.notify(title=title, body=body)
        except Exception as exc:  # noqa: BLE001 - a notifier's failure must never fail the trade
            failed.append(f"the {_scheme(url)} notifier failed ({type(exc).__name__}): alert not sent")
            continue
        if not sent:
            failed.append(f"the {_scheme(url)} notifier did not accept the alert: alert not sent")
    return failed
