"""``read_sensor_records``: files in, :class:`SensorRecords` and a :class:`QCReport` out."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ..grid import Grid
from ..species import Species
from .flags import QCFlag
from .mapping import IngestMapping, load_mapping
from .qc import (check_header_claims, convert_units, fill_gaps, flag_duplicates, flag_flat_lines, flag_range,
                 flag_spikes, flag_stations, series_slices)
from .readers import ObservationFileError, RawRows, read_long_csv, read_long_hdf5, read_parquet, read_wide_csv
from .records import SensorRecords, StationTable
from .report import QCReport
from .runfile import is_run_file, read_run_file
from .stations import check_stations, read_station_table
from .times import format_time


def _known_species(species) -> dict[str, float | None] | None:
    if species is None:
        return None
    if isinstance(species, Mapping):
        return {str(k): (None if v is None else float(v)) for k, v in species.items()}
    known: dict[str, float | None] = {}
    for s in species:
        if isinstance(s, Species):
            known[s.name] = s.molar_mass
        else:
            from .catalogue import species_info  # noqa: PLC0415

            info = species_info(str(s))
            known[str(s)] = None if info is None else info.molar_mass
    return known


def _read_raw(paths: Sequence[Path], mapping: IngestMapping, rows: RawRows, start: str, member: int):
    stations_from_file: list[StationTable] = []
    species_from_file: dict[str, float | None] = {}
    for path in paths:
        if not path.exists():
            raise ObservationFileError("records", f"{path} does not exist")
        suffix = path.suffix.lower()
        if suffix in (".h5", ".hdf5"):
            if is_run_file(path):
                table, masses = read_run_file(path, rows, start=start, member=member)
                stations_from_file.append(table)
                species_from_file.update(masses)
            else:
                table = read_long_hdf5(path, mapping, rows)
                if table is not None:
                    stations_from_file.append(table)
        elif suffix in (".parquet", ".pq"):
            read_parquet(path, mapping, rows)
        elif mapping.layout == "wide":
            read_wide_csv(path, mapping, rows)
        else:
            read_long_csv(path, mapping, rows)
    return stations_from_file, species_from_file


def merge_tables(tables: list[StationTable], crs: str | None) -> StationTable:
    """One table from those the files carried (first definition of a name wins), in ``crs``."""
    from .projection import transform  # noqa: PLC0415

    target = crs or tables[0].crs
    parts = []
    for t in tables:
        x, y = t.x, t.y
        if t.crs not in ("local", target) and target != "local":
            x, y = transform(x, y, t.crs, target, where="stations.crs")
        parts.append(StationTable(t.station_id, x, y, t.z_agl, target, t.averaging_s, t.qc, t.lon, t.lat))
    seen: set[str] = set()
    keep = [(k, n) for k, part in enumerate(parts) for n, name in enumerate(part.station_id)
            if not (name in seen or seen.add(name))]
    pick = lambda attr: np.asarray([getattr(parts[k], attr)[n] for k, n in keep])  # noqa: E731
    return StationTable(np.asarray([parts[k].station_id[n] for k, n in keep], dtype=object), pick("x"), pick("y"),
                        pick("z_agl"), target, pick("averaging_s"), pick("qc"), pick("lon"), pick("lat"))


def read_sensor_records(records: str | Path | Sequence[str | Path], stations: str | Path | StationTable | None = None,
                        mapping: str | Path | dict | IngestMapping | None = None, grid: Grid | None = None,
                        species: Sequence[str | Species] | Mapping[str, float | None] | None = None,
                        start: str = "1970-01-01T00:00:00+00:00", member: int = 0,
                        crs: str | None = None) -> tuple[SensorRecords, QCReport]:
    """Read sensor records, convert them to kg/m³ and UTC, flag them, and report.

    Parameters
    ----------
    records:
        One file or several: long-schema CSV (``time, station_id, species, value, unit[, qc]``),
        a wide CSV through ``mapping``, long-schema HDF5 (``/records``) or Parquet, or a plumetwin
        run file (its receptor series; the receptors become the stations).
    stations:
        Station table (CSV path, see :mod:`engine.observations.stations`, or a
        :class:`StationTable`); None: positions from a run file, else unknown (NaN).
    mapping:
        Column mapping (YAML path, dict or :class:`IngestMapping`); None: the plain long schema.
    grid:
        The model grid: stations are projected into its CRS and flagged outside the domain or in
        solids. None skips those checks.
    species:
        Accepted species (names, :class:`~engine.Species` or ``{name: molar_mass}``); others are
        flagged ``unknown_species``. None accepts the catalogue's (and a run file's own).
    start:
        Time (ISO 8601 with offset) of model time 0, for run files.
    member:
        Ensemble member read from a run file.
    crs:
        Projected CRS of the result when there is no grid (default: the table's own).

    Returns
    -------
    (SensorRecords, QCReport)
        Every row read plus rows inserted for missing time steps, sorted by station, species and
        time; nothing is dropped.

    Raises
    ------
    ObservationFileError
        For a file that cannot be read as a whole (naming file, line and column).
    """
    mapping = load_mapping(mapping)
    paths = [Path(records)] if isinstance(records, (str, Path)) else [Path(p) for p in records]
    if not paths:
        raise ConfigError("records", "no records file given")
    rows = RawRows()
    run_stations, run_species = _read_raw(paths, mapping, rows, start, member)
    target_crs = grid.crs if grid is not None else crs
    table_given = stations is not None
    if isinstance(stations, StationTable):
        table = stations.subset(np.arange(len(stations)))  # a copy: the checks flag it in place
    elif stations is not None:
        table = read_station_table(stations, crs=target_crs, encoding="utf-8-sig")
    elif run_stations:
        table = merge_tables(run_stations, target_crs)
        table_given = True
    else:
        names = list(dict.fromkeys(rows.station_id))
        nan = np.full(len(names), np.nan)
        table = StationTable(np.asarray(names, dtype=object), nan, nan, nan, target_crs or "local")
        rows.notes.append("no station table: station positions are unknown (NaN), so the domain and building "
                          "checks were not made")
    if mapping.averaging_s is not None:
        table.averaging_s = np.where(np.isnan(table.averaging_s), mapping.averaging_s, table.averaging_s)
    if grid is not None:
        if table.crs not in ("local", grid.crs) and len(table):
            raise ConfigError("stations.crs", f"stations are in {table.crs}, the grid in {grid.crs}")
        table.crs = grid.crs
    station_messages = check_stations(table, grid)

    known = _known_species(species)
    if run_species:
        known = {**run_species, **(known or {})} if known is not None else {**run_species, **_catalogue()}
    n = len(rows)
    qc = np.asarray(rows.qc, dtype=np.uint16)
    species_arr = np.asarray(rows.species, dtype=object)
    raw_values = np.asarray(rows.value, dtype=np.float64)
    temperature = np.asarray(rows.temperature, dtype=np.float64)
    pressure = np.asarray(rows.pressure, dtype=np.float64)
    temperature = np.where(np.isfinite(temperature) & (temperature > 0), temperature, mapping.temperature_k)
    pressure = np.where(np.isfinite(pressure) & (pressure > 0), pressure, mapping.pressure_pa)
    line = np.asarray(rows.line, dtype=np.int64)
    value = convert_units(species_arr, np.asarray(rows.unit, dtype=object), raw_values, qc, line, temperature,
                          pressure, known, rows.log)
    time = np.asarray(rows.time, dtype="datetime64[s]") if n else np.zeros(0, "datetime64[s]")
    result = SensorRecords(time, np.asarray(rows.station_id, dtype=object), species_arr, value, qc, table, line)
    zone = mapping.timezone or "UTC"

    flag_stations(result, table, table_given, rows.log)
    flag_duplicates(result, rows.log)
    result, steps = fill_gaps(result, mapping.qc, mapping.interval_s, zone, rows.log)
    flag_range(result, mapping.qc, known or {}, mapping.temperature_k, mapping.pressure_pa, rows.log)
    flag_spikes(result, mapping.qc, rows.log)
    flag_flat_lines(result, mapping.qc, zone, rows.log)
    result = result.sorted()

    notes = list(mapping.notes)
    if mapping.name != "long schema":
        shift = f", times shifted by {mapping.time_shift_s:g} s" if mapping.time_shift_s else ""
        window = f", values are {mapping.averaging_s:g}-s means ending at their time" if mapping.averaging_s else ""
        notes.insert(0, f"mapping {mapping.name}: {mapping.layout} layout, encoding {mapping.encoding}, "
                        f"times without offset taken as {mapping.timezone or 'refused'}{shift}{window}")
    if mapping.columns:
        translated = [f"{mapping.time_column} → time"]
        translated.append(f"{mapping.station_column} → station_id" if mapping.station is None
                          else f"station_id = {mapping.station}")
        translated += [f"{c} → {spec.species} [{spec.unit}]" for c, spec in mapping.columns.items()]
        notes.append("columns: " + ", ".join(translated))
    notes += check_header_claims(result, mapping, raw_values, species_arr)
    notes += missing_days(result, steps, zone)
    notes += rows.notes + station_messages
    if any(u.strip().lower() in ("ppm", "ppb") for u in set(rows.unit)):
        notes.append(f"ppm/ppb converted to kg/m³ at {mapping.temperature_k:g} K and {mapping.pressure_pa:g} Pa "
                     "unless a row gives temperature_k/pressure_pa")
    report = QCReport.from_qc(result.qc, sources=rows.sources, rows_read=n,
                              rows_inserted=len(result) - n,  # nothing is dropped
                              issues=rows.log.issues, notes=notes)
    report.stations = [{"station_id": str(s), "x": _num(table.x[k]), "y": _num(table.y[k]),
                        "z_agl": _num(table.z_agl[k]),
                        "flags": [f.name.lower() for f in QCFlag if f.value and table.qc[k] & f.value]}
                       for k, s in enumerate(table.station_id)]
    for station, name, index in series_slices(result):
        report.series.append({
            "station_id": station, "species": name, "rows": int(index.size),
            "good": int(np.count_nonzero(result.qc[index] == 0)),
            "first": format_time(result.time[index[0]], zone), "last": format_time(result.time[index[-1]], zone),
            "interval_s": steps.get((station, name)),
            "flags": {k: v for k, v in _counts(result.qc[index]).items() if v}})
    unplaced = int(np.count_nonzero(np.isnat(result.time)))
    if unplaced:
        report.notes.append(f"{unplaced} row(s) have no readable time and belong to no series (flagged unparseable)")
    return result, report


def missing_days(records: SensorRecords, steps: dict, zone: str) -> list[str]:
    """Notes naming the local calendar days that are entirely absent from a regular series."""
    from .times import time_zone  # noqa: PLC0415

    inserted = (records.source_line == 0) & records.flagged(QCFlag.MISSING) & ~np.isnat(records.time)
    if not inserted.any():
        return []
    offset = time_zone(zone).utcoffset(None)
    shift = np.timedelta64(int(offset.total_seconds()), "s") if offset is not None else np.timedelta64(0, "s")
    days: dict[str, list[str]] = {}
    for station, name, index in series_slices(records):
        step = steps.get((station, name))
        if not step or step > 86400:
            continue
        # Steps stamped at their end (01:00–24:00) belong to the day they end in, minus one step.
        local = (records.time[index] + shift - np.timedelta64(int(step), "s")).astype("datetime64[D]")
        gone = inserted[index]
        for day in np.unique(local[gone]):
            in_day = local == day
            if np.all(gone[in_day]) and in_day.sum() >= 86400 // step:
                days.setdefault(str(day), []).append(f"{station}/{name}")
    return [f"whole day {day} ({zone}) missing from the record: {len(series)} series ({', '.join(series[:6])}"
            f"{' …' if len(series) > 6 else ''})" for day, series in sorted(days.items())]


def _catalogue() -> dict[str, float | None]:
    from .catalogue import SPECIES  # noqa: PLC0415

    return {name: info.molar_mass for name, info in SPECIES.items()}


def _num(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _counts(qc: np.ndarray) -> dict[str, int]:
    from .flags import describe_flags  # noqa: PLC0415

    return describe_flags(qc)
