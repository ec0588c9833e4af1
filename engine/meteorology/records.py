"""Recorded weather: a station's hourly record read from CSV, with the Pasquill–Gifford class from
the record or from Turner's method (wind speed, solar elevation, cloud cover).

The CSV has a header and one row per record, in time order:

``time``
    ISO 8601 with a UTC offset (``2024-05-01T09:00+09:00`` for KST); the record holds until the next.
``wind_speed`` (m/s), ``wind_direction`` (degrees from north, where the wind blows from)
``temperature_c`` (°C) or ``temperature_k`` (K)
optional: ``pressure_hpa``, ``stability`` (A–F), ``cloud_cover`` (oktas, 0–8, for Turner's method
when ``stability`` is absent), ``mixing_height`` (m), ``rain_mm_h`` (rain rate, wet scavenging).

References
----------
Turner, D. B. (1964). A diffusion model for an urban area. J. Appl. Meteorol. 3, 83–91.
U.S. EPA (2000). Meteorological Monitoring Guidance for Regulatory Modeling Applications,
EPA-454/R-99-005, section 6.4.1 (the net radiation index and the stability table).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError
from .surface_layer import STABILITY_CLASSES

KNOT = 0.514444  # m/s

#: Turner's table: class number (1 = A … 7 = G, taken as F) by wind speed in knots (rows, upper
#: bounds) and net radiation index 4, 3, 2, 1, 0, −1, −2 (columns).
_TURNER_ROWS = (
    (1.5, (1, 1, 2, 3, 4, 6, 7)),
    (3.5, (1, 2, 2, 3, 4, 6, 7)),
    (5.5, (1, 2, 3, 4, 4, 5, 6)),
    (6.5, (2, 2, 3, 4, 4, 5, 6)),
    (7.5, (2, 2, 3, 4, 4, 4, 5)),
    (9.5, (2, 3, 3, 4, 4, 4, 5)),
    (10.5, (3, 3, 4, 4, 4, 4, 5)),
    (11.5, (3, 3, 4, 4, 4, 4, 4)),
    (math.inf, (3, 4, 4, 4, 4, 4, 4)),
)


@dataclass(frozen=True)
class MetRecord:
    """One hour of weather: ``time`` (s after the first record), wind speed (m/s) and direction
    (degrees, from), temperature (K), pressure (Pa or None), stability class, cloud cover (oktas
    or None), mixing height (m or None), the record's own timestamp and the rain rate (mm/h or None)."""

    time: float
    wind_speed: float
    wind_direction: float
    temperature: float
    pressure: float | None
    stability: str
    cloud_cover: float | None
    mixing_height: float | None
    timestamp: datetime
    rain_rate: float | None = None


def solar_elevation(when: datetime, latitude: float, longitude: float) -> float:
    """Solar elevation angle (degrees) at a tz-aware time and place (NOAA's approximation, ±0.5°)."""
    utc = when.astimezone(timezone.utc)
    day = utc.timetuple().tm_yday
    hour = utc.hour + utc.minute / 60 + utc.second / 3600
    gamma = 2 * math.pi / 365 * (day - 1 + (hour - 12) / 24)
    declination = (0.006918 - 0.399912 * math.cos(gamma) + 0.070257 * math.sin(gamma)
                   - 0.006758 * math.cos(2 * gamma) + 0.000907 * math.sin(2 * gamma)
                   - 0.002697 * math.cos(3 * gamma) + 0.00148 * math.sin(3 * gamma))
    equation_of_time = 229.18 * (0.000075 + 0.001868 * math.cos(gamma) - 0.032077 * math.sin(gamma)
                                 - 0.014615 * math.cos(2 * gamma) - 0.040849 * math.sin(2 * gamma))
    solar_minutes = hour * 60 + equation_of_time + 4 * longitude
    hour_angle = math.radians(solar_minutes / 4 - 180)
    lat = math.radians(latitude)
    sine = math.sin(lat) * math.sin(declination) + math.cos(lat) * math.cos(declination) * math.cos(hour_angle)
    return math.degrees(math.asin(max(-1.0, min(1.0, sine))))


def net_radiation_index(solar_elevation_deg: float, cloud_oktas: float) -> int:
    """Turner's net radiation index from the sun's elevation and the cloud cover (oktas).

    Day: insolation class 4 (> 60°), 3 (35–60°), 2 (15–35°), 1 (≤ 15°); an overcast sky gives 0,
    more than half cover lowers the class by one (at least 1; cloud ceilings are not recorded).
    Night: −2 with at most half cover, −1 above it, 0 when overcast.
    """
    tenths = cloud_oktas * 10 / 8
    if solar_elevation_deg > 0:
        if tenths >= 10:
            return 0
        insolation = 4 if solar_elevation_deg > 60 else 3 if solar_elevation_deg > 35 else 2 if solar_elevation_deg > 15 else 1
        if tenths > 5:
            insolation = max(insolation - 1, 1)
        return insolation
    if tenths >= 10:
        return 0
    return -2 if tenths <= 4 else -1


def turner_class(wind_speed: float, solar_elevation_deg: float, cloud_oktas: float) -> str:
    """Pasquill–Gifford class (A–F) by Turner's method; his class G is taken as F."""
    index = net_radiation_index(solar_elevation_deg, cloud_oktas)
    knots = wind_speed / KNOT
    for upper, row in _TURNER_ROWS:
        if knots < upper:
            number = row[4 - index]
            return STABILITY_CLASSES[min(number, 6) - 1]
    raise AssertionError("unreachable: the last row has no upper bound")


def _number(row: dict, column: str, where: str, low: float, high: float, unit: str) -> float:
    text = (row.get(column) or "").strip()
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{where}, column {column}", f"{text!r} is not a number ({unit})") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(f"{where}, column {column}", f"{value:g} {unit} is outside {low:g}–{high:g}")
    return value


def read_met_record(path: str | Path, latitude: float, longitude: float) -> list[MetRecord]:
    """Read a station record (see the module docstring); ``latitude``/``longitude`` (degrees) of
    the site serve Turner's method for rows without a stability class."""
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError("met.record", f"cannot read {path}: {exc.strerror}") from None
    records: list[MetRecord] = []
    with handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or [])
        missing = [c for c in ("time", "wind_speed", "wind_direction") if c not in columns]
        if not columns & {"temperature_c", "temperature_k"}:
            missing.append("temperature_c (or temperature_k)")
        if missing:
            raise ConfigError("met.record", f"{path.name} lacks the column(s) {', '.join(missing)}")
        if "stability" not in columns and "cloud_cover" not in columns:
            raise ConfigError("met.record", f"{path.name} needs a stability column (A–F) or cloud_cover (oktas) "
                                            "for Turner's method")
        first: datetime | None = None
        for row in reader:
            where = f"{path.name}: line {reader.line_num}"
            text = (row.get("time") or "").strip()
            try:
                stamp = datetime.fromisoformat(text)
            except ValueError:
                raise ConfigError(f"{where}, column time", f"{text!r} is not an ISO 8601 time") from None
            if stamp.tzinfo is None:
                raise ConfigError(f"{where}, column time", f"{text!r} has no UTC offset; add one, e.g. +09:00 for KST")
            first = first or stamp
            seconds = (stamp - first).total_seconds()
            if records and seconds <= records[-1].time:
                raise ConfigError(f"{where}, column time", f"{text} is not after the previous record")
            speed = _number(row, "wind_speed", where, 0, 75, "m/s")
            direction = _number(row, "wind_direction", where, 0, 360, "degrees")
            if "temperature_k" in columns:
                temperature = _number(row, "temperature_k", where, 200, 340, "K")
            else:
                temperature = _number(row, "temperature_c", where, -70, 65, "°C") + 273.15
            pressure = (_number(row, "pressure_hpa", where, 500, 1100, "hPa") * 100
                        if (row.get("pressure_hpa") or "").strip() else None)
            mixing = (_number(row, "mixing_height", where, 10, 6000, "m")
                      if (row.get("mixing_height") or "").strip() else None)
            cloud = (_number(row, "cloud_cover", where, 0, 8, "oktas")
                     if (row.get("cloud_cover") or "").strip() else None)
            stability = (row.get("stability") or "").strip().upper()
            if stability and stability not in STABILITY_CLASSES:
                raise ConfigError(f"{where}, column stability", f"{stability!r} is not a class A–F")
            if not stability:
                if cloud is None:
                    raise ConfigError(where, "has neither a stability class nor a cloud cover")
                stability = turner_class(speed, solar_elevation(stamp, latitude, longitude), cloud)
            rain = (_number(row, "rain_mm_h", where, 0, 500, "mm/h")
                    if (row.get("rain_mm_h") or "").strip() else None)
            records.append(MetRecord(seconds, speed, direction, temperature, pressure, stability, cloud, mixing, stamp,
                                     rain))
    if not records:
        raise ConfigError("met.record", f"{path.name} has no records")
    return records
