"""Dates as a browser writes them in its user's language: the `Date:` line of a Cboe delayed-quotes download is
the page's clock formatted by the browser ("Date: 9 декабря 2023 г. в 13:49 GMT-5", "2023年12月9日 13:49"). The
month names and the AM/PM words come from Babel's copy of the Unicode CLDR, for the languages browsers are most
used in; a word two of them read as different months would be refused (none is, a test checks)."""

from __future__ import annotations

import datetime as dt
import re
from functools import cache

# Browser languages read, most used first (CLDR codes): the eight and the other common ones.
LANGUAGES = ("en", "es", "ru", "de", "fr", "pt", "zh", "ja", "it", "nl", "pl", "sv", "da", "nb", "fi", "tr", "cs",
             "sk", "hu", "ro", "el", "uk", "ko", "ar", "he", "id", "vi", "th", "ca")

_CLOCK = re.compile(r"(\d{1,2})\s*[:hH]\s*(\d{2})")  # 13:49, 1:49, 13h49 (French Canada)
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_NUMBER = re.compile(r"(?<!\d)(\d{1,2})(?!\d)")
_WORD = re.compile(r"\d{1,2}\s*[月월]|[^\W\d_]+", re.UNICODE)  # CJK months are digits with 月 / 월


class UnreadableDate(ValueError):
    """What of a date could not be read (the text itself is never repeated: it may be anything)."""


@cache
def month_words() -> dict[str, int]:
    """Every month name and abbreviation of LANGUAGES, lower case without its dot: {word: month}."""
    from babel import Locale  # 0.1 s for the tables: only when a file's date is not in English

    found: dict[str, set[int]] = {}
    for code in LANGUAGES:
        months = Locale.parse(code).months
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for month, name in months[context][width].items():
                    found.setdefault(_key(name), set()).add(month)
    return {word: next(iter(months)) for word, months in found.items() if len(months) == 1}


@cache
def afternoon_words() -> tuple[frozenset[str], frozenset[str]]:
    """The words for before and after noon in LANGUAGES (AM, a. m., 午前, 下午, 오후 ...), lower case."""
    from babel import Locale

    before: set[str] = set()
    after: set[str] = set()
    for code in LANGUAGES:
        periods = Locale.parse(code).day_periods
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):  # not narrow: single letters would be read in any text
                names = periods.get(context, {}).get(width, {})
                before.update(_key(names[p]) for p in ("am",) if p in names)
                after.update(_key(names[p]) for p in ("pm",) if p in names)
    return frozenset(before - after), frozenset(after - before)


def _key(word: str) -> str:
    return re.sub(r"[\s.]", "", word.lower())


def written_moment(text: str) -> dt.datetime:
    """The date and time of day written in `text`, in any of LANGUAGES' long or medium forms; ValueError saying
    what could not be read."""
    time = written_time(text)
    clock = _CLOCK.search(text)
    assert clock is not None  # written_time found it
    return dt.datetime.combine(written_date(text[:clock.start()] + " " + text[clock.end():]), time)


def written_time(text: str) -> dt.time:
    """The time of day written in `text` (13:49, 1:49 PM, 下午1:49, 1:49 p. m.)."""
    clock = _CLOCK.search(text)
    if clock is None or int(clock.group(1)) > 23 or int(clock.group(2)) > 59:
        raise UnreadableDate("no time of day in the date line")
    hour, minute = int(clock.group(1)), int(clock.group(2))
    before, after = afternoon_words()
    around = {_key(w) for w in re.findall(r"[^\W\d_]+(?:\.\s?[^\W\d_]+\.?)?", text)}  # a. m., p.m., PM, 下午
    if hour < 12 and around & after:
        hour += 12
    elif hour == 12 and around & before:
        hour = 0
    return dt.time(hour, minute)


def written_date(text: str) -> dt.date:
    """The calendar date written in `text` (a four-digit year, a month by name, a day of one or two digits)."""
    year = _YEAR.search(text)
    if year is None:
        raise UnreadableDate("no year in the date line")
    rest = text[:year.start()] + " " + text[year.end():]
    months = month_words()
    month = next(((m.group(), months[_key(m.group())]) for m in _WORD.finditer(rest)
                  if _key(m.group()) in months), None)
    if month is None:
        raise UnreadableDate("no month name in the date line")
    day = _NUMBER.search(rest.replace(month[0], " ", 1))
    if day is None:
        raise UnreadableDate("no day of the month in the date line")
    try:
        return dt.date(int(year.group(1)), month[1], int(day.group(1)))
    except ValueError:
        raise UnreadableDate("no such day in the date line") from None
