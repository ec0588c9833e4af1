"""Quality control: unit conversion and the checks that flag rows (never remove them).

Order: units → stations → duplicates → gaps (rows inserted, flagged ``missing``) → range →
spike → flat line. Each check looks only at rows no earlier check made unusable, and logs what it
flags with the input lines, so the report can point at every flagged row.

References
----------
Hampel, F. R. (1974). The influence curve and its role in robust estimation. JASA 69, 383–393
(the running-median spike test with the MAD scale, 1.4826 MAD ≈ σ for Gaussian noise).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..units import convert_concentration
from .catalogue import species_info
from .flags import UNUSABLE, QCFlag
from .mapping import IngestMapping, QCSettings
from .records import SensorRecords, StationTable, same_text
from .report import IssueLog
from .times import format_time

_MAD_TO_SIGMA = 1.4826


def molar_mass_of(name: str, known: dict[str, float | None]) -> float | None:
    if name in known:
        return known[name]
    info = species_info(name)
    return None if info is None else info.molar_mass


def convert_units(species: np.ndarray, unit: np.ndarray, value: np.ndarray, qc: np.ndarray, line: np.ndarray,
                  temperature: np.ndarray, pressure: np.ndarray, known: dict[str, float | None] | None,
                  log: IssueLog) -> np.ndarray:
    """Values in kg/m³; rows with an unknown species or unit are flagged (in ``qc``) and NaN.

    ``known`` maps accepted species names to molar masses (kg/mol or None); None accepts the
    catalogue's species (:mod:`engine.observations.catalogue`).
    """
    out = np.full(value.shape, np.nan)
    # Grouped as Python strings: NumPy's fixed-width str arrays would drop trailing NUL characters.
    for s_name, u_name in sorted(set(zip(species.tolist(), unit.tolist()))):
        rows = same_text(species, s_name) & same_text(unit, u_name)
        accepted = (s_name in known) if known is not None else species_info(s_name) is not None
        if not accepted:
            qc[rows] |= np.uint16(QCFlag.UNKNOWN_SPECIES)
            names = ", ".join(sorted(known)) if known is not None else "the catalogue's"
            log.add(QCFlag.UNKNOWN_SPECIES, f"species not known (known: {names})", 0, "species",
                    example=s_name[:40], count=int(rows.sum()))
            for n in line[rows][:20]:
                log.add(QCFlag.UNKNOWN_SPECIES, f"species not known (known: {names})", int(n), "species", count=0)
            continue
        mass = molar_mass_of(s_name, known or {})
        for t_k, p_pa in {(t, p) for t, p in zip(temperature[rows].tolist(), pressure[rows].tolist())}:
            sub = rows & _same(temperature, t_k) & _same(pressure, p_pa)
            try:
                out[sub] = convert_concentration(value[sub], u_name, "kg/m3", mass, temperature=t_k, pressure=p_pa)
            except ConfigError as exc:
                qc[sub] |= np.uint16(QCFlag.UNKNOWN_UNIT)
                reason = str(exc).split(": ", 1)[-1].split(";")[0]
                for n in line[sub][:20]:
                    log.add(QCFlag.UNKNOWN_UNIT, f"{s_name}: {reason}", int(n), "unit", example=u_name[:40], count=0)
                log.add(QCFlag.UNKNOWN_UNIT, f"{s_name}: {reason}", 0, "unit", example=u_name[:40],
                        count=int(sub.sum()))
    out[(qc & np.uint16(int(UNUSABLE))) != 0] = np.nan
    unexplained = np.flatnonzero(np.isnan(out) & ((qc & np.uint16(int(UNUSABLE))) == 0))
    for r in unexplained:  # never a NaN without a flag saying why
        qc[r] |= np.uint16(QCFlag.UNPARSEABLE)
        log.add(QCFlag.UNPARSEABLE, "value could not be converted", int(line[r]), "value")
    return out


def _same(array: np.ndarray, value: float) -> np.ndarray:
    return np.isnan(array) if np.isnan(value) else array == value


def distinct(values: np.ndarray) -> list[str]:
    """Distinct texts of an object array, sorted (as Python strings, NULs and all)."""
    return sorted(set(values.tolist()))


def series_slices(records: SensorRecords):
    """(station, species, row indices sorted by time) for every series with at least one time."""
    groups: dict[tuple[str, str], list[int]] = {}
    ok = ~np.isnat(records.time)
    for r, key in enumerate(zip(records.station_id.tolist(), records.species.tolist())):
        if ok[r]:
            groups.setdefault(key, []).append(r)
    for (station, species) in sorted(groups):
        rows = np.asarray(groups[(station, species)], dtype=np.int64)
        rows = rows[np.argsort(records.time[rows], kind="stable")]
        yield station, species, rows


def flag_duplicates(records: SensorRecords, log: IssueLog) -> None:
    """Flag every row after the first with the same station, species and time."""
    for station, species, rows in series_slices(records):
        times = records.time[rows]
        first = rows[0]
        for k in range(1, rows.size):
            if times[k] != times[k - 1]:
                first = rows[k]
                continue
            r = rows[k]
            records.qc[r] |= np.uint16(QCFlag.DUPLICATE_TIME)
            a, b = records.value[first], records.value[r]
            same = (a == b) or (np.isnan(a) and np.isnan(b))
            log.add(QCFlag.DUPLICATE_TIME, "same station, species and time as an earlier row, "
                    + ("same value" if same else "different value"), int(records.source_line[r]), "time",
                    series=f"{station}/{species}")


def regular_step(times: np.ndarray, given: float | None) -> float | None:
    """The series' step (s): ``given``, else the commonest positive difference (None if < 3 times)."""
    if given:
        return float(given)
    seconds = np.unique(times.astype(np.int64))
    if seconds.size < 3:
        return None
    steps, counts = np.unique(np.diff(seconds), return_counts=True)
    return float(steps[np.argmax(counts)])


def fill_gaps(records: SensorRecords, settings: QCSettings, interval_s: float | None, zone: str,
              log: IssueLog) -> tuple[SensorRecords, dict[tuple[str, str], float | None]]:
    """Insert ``missing`` rows for the time steps a regular series skips; return the steps found."""
    new_time, new_station, new_species = [], [], []
    steps: dict[tuple[str, str], float | None] = {}
    for station, species, rows in series_slices(records):
        times = np.unique(records.time[rows])
        step = regular_step(times, interval_s)
        steps[(station, species)] = step
        if step is None or not settings.fill_missing:
            continue
        seconds = times.astype(np.int64)
        gaps = np.diff(seconds)
        for k in np.flatnonzero(gaps > step):
            count = int(round(gaps[k] / step)) - 1
            if abs((count + 1) * step - gaps[k]) > 1e-6 * step:
                log.add(QCFlag.MISSING, f"gap of {gaps[k]:g} s is not a whole number of {step:g} s steps; not filled",
                        0, "time", example=format_time(times[k], zone), series=f"{station}/{species}")
                continue
            first = times[k] + np.timedelta64(int(step), "s")
            last = times[k] + np.timedelta64(int(step * count), "s")
            span = f"{format_time(first, zone)} to {format_time(last, zone)}"
            if count > settings.max_fill:
                log.add(QCFlag.MISSING, f"gap of {count} steps longer than max_fill; not filled", 0, "time",
                        example=span, series=f"{station}/{species}")
                continue
            log.add(QCFlag.MISSING, f"time steps absent from the record (every {step:g} s)", 0, "time",
                    example=f"{span} ({count})", series=f"{station}/{species}", count=count)
            inserted = first + np.arange(count) * np.timedelta64(int(step), "s")
            new_time.append(inserted)
            new_station += [station] * count
            new_species += [species] * count
    if not new_time:
        return records, steps
    added = np.concatenate(new_time)
    n = added.size
    merged = SensorRecords(
        np.concatenate([records.time, added]), np.concatenate([records.station_id, np.asarray(new_station, object)]),
        np.concatenate([records.species, np.asarray(new_species, object)]),
        np.concatenate([records.value, np.full(n, np.nan)]),
        np.concatenate([records.qc, np.full(n, int(QCFlag.MISSING), np.uint16)]), records.stations,
        np.concatenate([records.source_line, np.zeros(n, np.int64)]))
    return merged.sorted(), steps


def _limits(species: str, settings: QCSettings, mass: float | None, t_k: float, p_pa: float):
    given = settings.limits.get(species)
    if given is not None:
        low, high, unit = given
    else:
        info = species_info(species)
        if info is None:
            return 0.0, np.inf
        low, high, unit = info.limits[0], info.limits[1], info.unit
    convert = [float(convert_concentration(v, unit, "kg/m3", mass, t_k, p_pa)) for v in (low, high)]
    return convert[0], convert[1]


def flag_range(records: SensorRecords, settings: QCSettings, known: dict, t_k: float, p_pa: float,
               log: IssueLog) -> None:
    """Flag values below or above the species' plausible range."""
    for name in distinct(records.species):
        rows = np.flatnonzero(same_text(records.species, name) & np.isfinite(records.value))
        if rows.size == 0:
            continue
        try:
            low, high = _limits(name, settings, molar_mass_of(name, known), t_k, p_pa)
        except ConfigError:
            low, high = 0.0, np.inf
        bad = rows[(records.value[rows] < low) | (records.value[rows] > high)]
        for r in bad:
            records.qc[r] |= np.uint16(QCFlag.RANGE)
            log.add(QCFlag.RANGE, f"{name} outside {low * 1e9:g}–{high * 1e9:g} µg/m³", int(records.source_line[r]),
                    "value", example=f"{float(records.value[r]) * 1e9:.4g} µg/m³",
                    series=f"{records.station_id[r]}/{name}")


def _usable(records: SensorRecords, rows: np.ndarray) -> np.ndarray:
    blocking = np.uint16(int(UNUSABLE | QCFlag.DUPLICATE_TIME | QCFlag.RANGE))
    return rows[((records.qc[rows] & blocking) == 0) & np.isfinite(records.value[rows])]


def flag_spikes(records: SensorRecords, settings: QCSettings, log: IssueLog) -> None:
    """Hampel filter per series: flag values far from the running median of their neighbours."""
    h = settings.spike_half_window
    for station, species, rows in series_slices(records):
        rows = _usable(records, rows)
        if rows.size < 2 * h + 1:
            continue
        values = records.value[rows]
        padded = np.pad(values, h, mode="edge")
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * h + 1)
        median = np.median(windows, axis=1)
        mad = np.median(np.abs(windows - median[:, None]), axis=1)
        deviation = np.abs(values - median)
        threshold = np.maximum.reduce([settings.spike_sigma * _MAD_TO_SIGMA * mad,
                                       settings.spike_relative * np.abs(median),
                                       np.full(values.size, settings.spike_floor)])
        for r, v, m in zip(rows[deviation > threshold], values[deviation > threshold], median[deviation > threshold]):
            records.qc[r] |= np.uint16(QCFlag.SPIKE)
            log.add(QCFlag.SPIKE, "far from the running median of its neighbours", int(records.source_line[r]),
                    "value", example=f"{float(v) * 1e9:.4g} vs median {float(m) * 1e9:.4g} µg/m³",
                    series=f"{station}/{species}")


def flag_flat_lines(records: SensorRecords, settings: QCSettings, zone: str, log: IssueLog) -> None:
    """Flag runs of identical consecutive values lasting ``flat_line_s`` or longer.

    Only values at least ``flat_line_min_steps`` resolution steps from zero count: the resolution is
    the smallest difference between distinct values of the series, and a reading of 0.003 ppm
    published to 0.001 ppm repeats for hours on a working analyser.
    """
    for station, species, rows in series_slices(records):
        rows = _usable(records, rows)
        if rows.size < settings.flat_line_min_count:
            continue
        values = records.value[rows]
        steps = np.diff(np.unique(values))
        # The published resolution: a value only a few steps above zero cannot show variation.
        resolution = float(steps.min()) if steps.size else 0.0  # one value throughout: nothing to resolve
        breaks = np.flatnonzero(np.diff(values) != 0) + 1
        starts = np.concatenate([[0], breaks])
        ends = np.concatenate([breaks, [values.size]])
        for a, b in zip(starts, ends):
            duration = (records.time[rows[b - 1]] - records.time[rows[a]]).astype("timedelta64[s]").astype(float)
            resolved = abs(values[a]) >= settings.flat_line_min_steps * resolution
            if b - a >= settings.flat_line_min_count and duration >= settings.flat_line_s and resolved:
                records.qc[rows[a:b]] |= np.uint16(QCFlag.FLAT_LINE)
                log.add(QCFlag.FLAT_LINE, f"value unchanged for {settings.flat_line_s / 3600:g} h or longer",
                        int(records.source_line[rows[a]]), "value", count=int(b - a),
                        example=f"{float(values[a]) * 1e9:.4g} µg/m³ from {format_time(records.time[rows[a]], zone)} "
                                f"for {duration / 3600:g} h", series=f"{station}/{species}")


def flag_stations(records: SensorRecords, stations: StationTable, table_given: bool, log: IssueLog) -> None:
    """OR each station's flags into its rows; flag rows of stations absent from a given table."""
    index = {name: n for n, name in enumerate(stations.station_id)}
    for name in distinct(records.station_id):
        rows = same_text(records.station_id, name)
        n = index.get(name)
        if n is None:
            if table_given:
                records.qc[rows] |= np.uint16(QCFlag.UNKNOWN_STATION)
                log.add(QCFlag.UNKNOWN_STATION, "station not in the station table", 0, "station_id",
                        example=name[:40], count=int(rows.sum()))
            continue
        if table_given and not np.all(np.isfinite([stations.x[n], stations.y[n], stations.z_agl[n]])):
            records.qc[rows] |= np.uint16(QCFlag.UNKNOWN_STATION)
            log.add(QCFlag.UNKNOWN_STATION, "station has no position in the station table", 0, "station_id",
                    example=name[:40], count=int(rows.sum()))
        if stations.qc[n]:
            records.qc[rows] |= np.uint16(stations.qc[n])
            for flag in (QCFlag.OUTSIDE_DOMAIN, QCFlag.INSIDE_BUILDING):
                if stations.qc[n] & flag:
                    log.add(flag, "station " + ("outside the domain" if flag == QCFlag.OUTSIDE_DOMAIN
                                                else "inside a building or terrain"), 0, "station_id",
                            example=name[:40], count=int(rows.sum()))


def check_header_claims(records: SensorRecords, mapping: IngestMapping, raw_values: np.ndarray,
                        raw_species: np.ndarray) -> list[str]:
    """For wide columns whose header names another species than the mapping, test the header's
    claim against the values' range and say which one the data support."""
    notes = []
    for column, spec in mapping.columns.items():
        if not spec.header_says:
            continue
        values = raw_values[same_text(raw_species, spec.species) & np.isfinite(raw_values)]
        claimed, mapped = species_info(spec.header_says), species_info(spec.species)
        text = f"column {column!r}: header says {spec.header_says}, mapped to {spec.species} ({spec.unit})"
        if values.size and claimed is not None and claimed.unit == spec.unit:
            low, high = float(np.min(values)), float(np.max(values))
            median = float(np.median(values))
            plausible_claim = claimed.typical[0] <= median <= claimed.typical[1]
            plausible_mapped = mapped is None or mapped.unit != spec.unit or (
                mapped.typical[0] <= median <= mapped.typical[1])
            verdict = ("the values fit the header, not the mapping: check the mapping" if plausible_claim and not
                       plausible_mapped else
                       f"the values (median {median:g}) are outside ambient {spec.header_says} "
                       f"({claimed.typical[0]:g}–{claimed.typical[1]:g} {claimed.unit}) and fit {spec.species}: "
                       "the header is mislabelled" if not plausible_claim and plausible_mapped else
                       "the values do not decide between them")
            text += f"; values {low:g}–{high:g} {spec.unit}: {verdict}"
        if spec.note:
            text += f". {spec.note}"
        notes.append(text)
    return notes
