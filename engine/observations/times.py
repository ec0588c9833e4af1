"""Times of records: ISO 8601 text with a UTC offset, turned into UTC ``datetime64[s]``.

Accepted: ``2024-05-01T09:00+09:00``, ``2024-05-01 09:00:00Z``, a date ``20240501`` or
``2024-05-01`` (midnight), and the hour ``24:00`` meaning the end of that day (ISO 8601:2004
allows it; Korean portals stamp hourly means 01:00–24:00). Text without an offset takes the
``timezone`` the caller gives (``+09:00``, ``KST``, ``UTC`` or an IANA name such as ``Asia/Seoul``);
without one it is refused, since a naive time is ambiguous by up to a day.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache

import numpy as np

_ALIASES = {"KST": "+09:00", "UTC": "+00:00", "Z": "+00:00", "GMT": "+00:00"}
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_HOUR_24 = re.compile(r"^(\d{4}-?\d{2}-?\d{2})[T ]24(:00(:00)?)?(?=$|[Z+-])")


@lru_cache(maxsize=64)
def time_zone(name: str) -> tzinfo:
    """A tzinfo from ``+09:00``, ``KST``, ``UTC`` or an IANA name; ValueError naming the forms."""
    text = _ALIASES.get(str(name).strip().upper(), str(name).strip())
    match = _OFFSET.match(text)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    try:
        from zoneinfo import ZoneInfo  # noqa: PLC0415

        return ZoneInfo(text)
    except Exception:  # noqa: BLE001 - zoneinfo raises several kinds for a bad name
        raise ValueError(f"unknown time zone {name!r}; use an offset such as +09:00, KST, UTC or an IANA "
                         "name such as Asia/Seoul") from None


def _datetime(text: str, fmt: str | None) -> datetime:
    text = text.strip()
    if fmt:
        return datetime.strptime(text, fmt)
    if re.fullmatch(r"\d{8}", text):
        return datetime.strptime(text, "%Y%m%d")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


@lru_cache(maxsize=200_000)
def _parse_cached(text: str, default_zone: str | None, fmt: str | None) -> np.datetime64:
    extra = timedelta(0)
    match = _HOUR_24.match(text.strip())
    if match and not fmt:
        # 24:00 is 00:00 of the next day.
        text = text.strip()[: match.start(0)] + match.group(1) + "T00:00" + text.strip()[match.end(0):]
        extra = timedelta(days=1)
    stamp = _datetime(text, fmt) + extra
    if stamp.tzinfo is None:
        if default_zone is None:
            raise ValueError(f"{text!r} has no UTC offset; add one (e.g. +09:00 for KST) or give the "
                             "records' time zone")
        zone = time_zone(default_zone)
        stamp = stamp.replace(tzinfo=zone)
        if hasattr(zone, "key"):  # an IANA zone: refuse times that do not exist or are ambiguous
            round_trip = stamp.astimezone(timezone.utc).astimezone(zone)
            if round_trip.replace(tzinfo=None) != stamp.replace(tzinfo=None):
                raise ValueError(f"{text!r} does not exist in {default_zone} (a daylight-saving gap)")
    utc = stamp.astimezone(timezone.utc).replace(tzinfo=None)
    return np.datetime64(utc.replace(microsecond=0), "s")


def parse_time(text: str, timezone_name: str | None = None, fmt: str | None = None) -> np.datetime64:
    """UTC ``datetime64[s]`` of one time text.

    Parameters
    ----------
    text:
        The time (see the module docstring for the accepted forms).
    timezone_name:
        Zone of texts without an offset (``+09:00``, ``KST``, ``Asia/Seoul``...); None refuses them.
    fmt:
        Optional :func:`datetime.strptime` format, for layouts ISO 8601 does not cover.

    Raises
    ------
    ValueError
        With a message saying what is wrong with the text.
    """
    try:
        return _parse_cached(str(text), timezone_name, fmt)
    except ValueError as exc:
        message = str(exc)
        if "UTC offset" in message or "does not exist" in message or "time zone" in message:
            raise
        raise ValueError(f"{text!r} is not an ISO 8601 time" + (f" in the format {fmt!r}" if fmt else "")) from None


def format_time(stamp: np.datetime64, offset: str = "+00:00") -> str:
    """ISO 8601 text of a UTC ``datetime64`` in the zone ``offset`` (``+09:00``, ``KST``...)."""
    if np.isnat(stamp):
        return ""
    seconds = int(np.datetime64(stamp, "s").astype(np.int64))
    zone = time_zone(offset)
    when = datetime.fromtimestamp(seconds, tz=timezone.utc).astimezone(zone)
    return when.isoformat()
