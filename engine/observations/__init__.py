"""Observations: recorded sensor data in one long schema, unit-converted and QC-flagged, and the
observation operator that reads the model state at the sensors.

Read top to bottom::

    records, report = read_sensor_records("records.csv", stations="stations.csv", grid=grid)
    usable = records.stations.subset(records.stations.usable)
    H = ObservationOperator(grid, usable, model.species_names, averaging_s=600)
    predicted = H.sample(model.state)          # (member, species, sensor), kg/m³

Inside: values kg/m³, times UTC ``datetime64[s]``, positions m in the grid's CRS.
"""

from .flags import UNUSABLE, QCFlag, describe_flags, flag_names
from .ingest import read_sensor_records
from .longtable import write_long_csv, write_long_hdf5, write_long_parquet, write_station_csv
from .mapping import IngestMapping, QCSettings, load_mapping
from .operator import ObservationCallback, ObservationOperator, WindowAverage
from .projection import lonlat_to_projected, projected_to_lonlat, transform
from .readers import ObservationFileError
from .records import SensorRecords, StationTable
from .report import QCReport
from .stations import check_stations, read_station_table
from .times import format_time, parse_time

__all__ = [
    "IngestMapping", "ObservationCallback", "ObservationFileError", "ObservationOperator", "QCFlag", "QCReport",
    "QCSettings", "SensorRecords", "StationTable", "UNUSABLE", "WindowAverage", "check_stations", "describe_flags",
    "flag_names", "format_time", "load_mapping", "lonlat_to_projected", "parse_time", "projected_to_lonlat",
    "read_sensor_records", "read_station_table", "transform", "write_long_csv", "write_long_hdf5",
    "write_long_parquet", "write_station_csv",
]
